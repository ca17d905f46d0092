"""Services and handlers know no routes: the app builds the addresses they send (wxapp/config.py `links`), and
each one leads to the page it names."""
from __future__ import annotations

from wxapp import config
from wxapp.config import links


def test_each_link_leads_to_its_page(app):
    built = links(config.of(app).public_base_url)
    adapter = app.url_map.bind("wx.example.test", url_scheme="https")
    path = "https://wx.example.test"

    assert adapter.match(built.learn.removeprefix(path))[0] == "h5.learn"
    assert adapter.match(built.exam.removeprefix(path))[0] == "h5.exam"
    assert adapter.match(built.bind.removeprefix(path))[0] == "h5.bind"
    assert adapter.match(built.certificates.removeprefix(path))[0] == "h5.certificate_list"
    assert adapter.match(built.attend("tok3n").removeprefix(path)) == ("h5.attend", {"token": "tok3n"})
    assert adapter.match(built.verify("ABCDEFGHJKMN").removeprefix(path)) == (
        "verify.verify", {"number": "ABCDEFGHJKMN"})


def test_a_base_with_a_trailing_slash_makes_no_double_slash():
    built = links("https://wx.example.test/")

    assert built.learn == "https://wx.example.test/h5/learn"
    assert built.verify("ABCDEFGHJKMN") == "https://wx.example.test/verify/ABCDEFGHJKMN"
