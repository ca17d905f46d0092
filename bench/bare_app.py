"""The baseline: a bare Flask app that answers `success`, served by the same gunicorn settings."""
from flask import Flask

app = Flask(__name__)


@app.post("/wechat")
def wechat():
    return "success"
