"""The baselines: a bare Flask app that answers `success` to the callback and a JSON of the same
shape to a heartbeat, served by the same gunicorn settings."""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/wechat")
def wechat():
    return "success"


@app.post("/api/play/heartbeat")
def heartbeat():
    beat = request.get_json(force=True)
    return jsonify(max_position=beat["position"], credited_seconds=0.0, lesson_completed=False, challenge=None)
