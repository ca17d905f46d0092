"""Production server settings: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be overridden from the environment (GUNICORN_*), so benchmarks and
deployments tune without editing this file.
"""
import multiprocessing
import os
import shutil
import tempfile

# /metrics adds up every worker's figures from files in this directory (prometheus_client's
# multiprocess mode). It must be set before a worker imports prometheus_client, and be empty at each
# start: a fresh one unless the operator names one (then it is emptied here).
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _metrics_dir:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)
else:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="wxapp-metrics-")

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Requests are short and wait on PostgreSQL and Redis: a few threaded workers per core.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# WeChat gives a callback 5 s; a request still running after 30 s is stuck, not slow.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then (a leak can't grow forever), but rarely: every player page beats
# every 15 s, so at 1,000 heartbeats/s a limit of 5,000 restarted a worker every 25 s, and each
# restart showed as a latency spike.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 200000))
max_requests_jitter = max_requests // 10
# gunicorn 27 opens a control socket in the home folder by default: keep it out.
control_socket_disable = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# No query string (it may carry OAuth codes or signatures) and no client address: path and timing only.
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"


def post_worker_init(worker):
    """Once the app is loaded, its long-lived objects (SQLAlchemy mappers, Flask, wechatpy:
    ~140,000 of them) leave the garbage collector's view. A full collection walked them all:
    56 ms during which the worker answered nothing, a spike in p99; frozen, under 1 ms."""
    import gc

    gc.freeze()
    worker.log.info("Worker ready (pid: %s)", worker.pid)


def child_exit(server, worker):
    """A dead worker's live gauges leave the sum; its counters and histograms stay counted."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
