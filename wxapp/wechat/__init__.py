"""The WeChat callback (`/wechat`, CONTRACT §3), served by `CallbackEndpoint` in front of Flask."""
from flask import Flask


def mount(app: Flask) -> None:
    """Answers `/wechat` before Flask's request handling; every other path goes on to Flask."""
    from wxapp.wechat.endpoint import CallbackEndpoint

    endpoint = CallbackEndpoint(app, app.wsgi_app)
    app.extensions["wechat_callback"] = endpoint  # other layers wrap it (the heartbeat's, the metrics')
    app.wsgi_app = endpoint
