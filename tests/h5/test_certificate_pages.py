"""The trainee's hours certificates (CONTRACT §8): list, printable page, PDF, portal block.

The PDF is checked with poppler's tools: pdftotext for the words, pdffonts for a real CJK font
(pdftotext also "finds" Chinese drawn as .notdef boxes), and pdftoppm + zxing for the QR code.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from tests import factories
from tests.completion_util import cancel, complete
from tests.h5.oauth_util import login

OPENID = "oCertOwner0000000000000000001"
OTHER = "oCertOther0000000000000000001"
ID_CARD = "320505198001010017"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def app(make_app, fake_wechat):
    return make_app(WECHAT_API_BASE=fake_wechat.base_url, SCHOOL_NAME="苏州市测试建设职业培训学校")


@pytest.fixture
def owner(app):
    return factories.trainee(app, name="欧阳小明", id_card=ID_CARD, openid=OPENID,
                             majors=(("建筑工程", "main"), ("市政公用工程", "added")))


@pytest.fixture
def browser(app, fake_wechat, owner):
    client = app.test_client()
    login(client, fake_wechat, OPENID, "/h5/certificates")
    return client


def run_on_pdf(pdf: bytes, tmp_path, *command: str) -> str:
    """Runs a poppler tool with the PDF's path in place of `{}`; its standard output."""
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    args = [str(path) if part == "{}" else part for part in command]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def pdf_text(pdf: bytes, tmp_path) -> str:
    return run_on_pdf(pdf, tmp_path, "pdftotext", "-raw", "-enc", "UTF-8", "{}", "-")


def test_pdf_holds_name_masked_id_major_hours_score_date_number_in_a_cjk_font(app, browser, owner, tmp_path,
                                                                             caplog):
    number = complete(app, owner, score=86)
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        r = browser.get(f"/h5/certificates/{number}.pdf")
    assert [rec.getMessage() for rec in caplog.records if rec.name.startswith("weasyprint")] == []  # no .notdef
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Cache-Control"] == "private, no-store"
    text = pdf_text(r.data, tmp_path)
    assert "学时证明" in text.replace(" ", "")  # the title is letter-spaced
    for words in ("欧阳小明", "3205**********0017", "建筑工程", "苏州市测试建设职业培训学校", "86 分",
                  "2027年3月20日", number, "16 学时", "40 学时", "4 学时", "60 学时"):
        assert words in text, words
    assert ID_CARD not in text and "13912340001" not in text and "已作废" not in text
    fonts = run_on_pdf(r.data, tmp_path, "pdffonts", "{}")
    assert "WenQuanYi" in fonts or "NotoSansCJK" in fonts.replace(" ", ""), fonts
    info = run_on_pdf(r.data, tmp_path, "pdfinfo", "{}")
    assert "Pages:           1" in info and "(A4)" in info


def test_pdf_qr_code_reads_the_public_verify_url(app, browser, owner, tmp_path):
    number = complete(app, owner)
    pdf = tmp_path / "c.pdf"
    pdf.write_bytes(browser.get(f"/h5/certificates/{number}.pdf").data)
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-singlefile", str(pdf), str(tmp_path / "page")], check=True)
    codes = zxingcpp.read_barcodes(Image.open(tmp_path / "page.png"))
    assert [c.text for c in codes] == [f"https://wx.example.test/verify/{number}"]
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(tmp_path / "page.png", ARTIFACTS / "certificate-pdf-page.png")  # for a person to look at


def test_another_trainees_certificate_is_not_found(app, browser, owner):
    stranger = factories.trainee(app, name="李四", phone="13912340002", id_card="11010519491231002X", openid=OTHER)
    theirs = complete(app, stranger)
    for path in (f"/h5/certificates/{theirs}.pdf", f"/h5/certificates/{theirs}", "/h5/certificates/NOTANUMBER.pdf"):
        r = browser.get(path)
        assert r.status_code == 404, path
        assert "没有找到这份学时证明" in r.get_data(as_text=True)
    assert theirs not in browser.get("/h5/certificates").get_data(as_text=True)


def test_list_shows_each_certificate_with_page_and_pdf_links(app, browser, owner):
    building = complete(app, owner, score=90)
    page = browser.get("/h5/certificates").get_data(as_text=True)
    assert "建筑工程" in page and "60 学时" in page and "成绩 90 分" in page and building in page
    assert f'href="/h5/certificates/{building}.pdf"' in page and f'href="/h5/certificates/{building}"' in page
    assert "市政公用工程" not in page  # enrolled but not completed


def test_list_without_certificates_says_how_to_get_one(browser):
    r = browser.get("/h5/certificates")
    assert r.status_code == 200 and "您还没有学时证明" in r.get_data(as_text=True)


def test_printable_page_is_the_same_certificate(app, browser, owner):
    number = complete(app, owner)
    page = browser.get(f"/h5/certificates/{number.lower()}").get_data(as_text=True)
    assert "欧阳小明" in page and "3205**********0017" in page and ID_CARD not in page
    assert f"https://wx.example.test/verify/{number}" in page and "<svg" in page
    assert f'href="/h5/certificates/{number}.pdf"' in page and "@page" in page


def test_cancelled_certificate_is_stamped_void_in_page_and_pdf(app, browser, owner, tmp_path):
    void = complete(app, owner, attempt_id=5)
    cancel(app, 5)
    again = complete(app, owner, score=95, attempt_id=6)
    listing = browser.get("/h5/certificates").get_data(as_text=True)
    assert listing.index(again) < listing.index(void) and "已于2027年4月2日作废" in listing
    assert "已作废" in browser.get(f"/h5/certificates/{void}").get_data(as_text=True)
    text = pdf_text(browser.get(f"/h5/certificates/{void}.pdf").data, tmp_path)
    assert "已作废" in text.replace(" ", "") and "2027年4月2日作废" in text  # the stamp: rotated, letter-spaced
    assert "作废" not in pdf_text(browser.get(f"/h5/certificates/{again}.pdf").data, tmp_path)


def test_certificates_need_a_session(app):
    r = app.test_client().get("/h5/certificates/ABCDEFGHJKMN.pdf")
    assert r.status_code == 302 and "open.weixin.qq.com" in r.headers["Location"]


def test_portal_shows_completed_majors_with_their_certificates(app, browser, owner):
    assert "已完成的专业" not in browser.get("/h5/learn").get_data(as_text=True)
    number = complete(app, owner)
    page = browser.get("/h5/learn").get_data(as_text=True)
    assert "已完成的专业" in page and f'href="/h5/certificates/{number}"' in page
    assert 'href="/h5/certificates"' in page


def test_pdfs_are_limited_per_wechat_user(app, browser, fake_wechat):
    codes = [browser.get("/h5/certificates/ABCDEFGHJKMN.pdf").status_code for _ in range(21)]
    assert codes == [404] * 20 + [429]
    factories.trainee(app, name="李四", phone="13912340002", id_card="11010519491231002X", openid=OTHER)
    colleague = app.test_client()  # same address, another WeChat user: not limited by the first
    login(colleague, fake_wechat, OTHER, "/h5/certificates")
    assert colleague.get("/h5/certificates/ABCDEFGHJKMN.pdf").status_code == 404
