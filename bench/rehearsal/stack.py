"""The rehearsal's processes, all on loopback and free ports, all stopped at the end (even on Ctrl-C):
a throwaway database on the shared PostgreSQL behind its own PgBouncer (transaction mode), its own
redis-server, the WeChat + SMS stand-in, two "hosts" (gunicorn with gunicorn.conf.py + `scheduler
run` each, production settings) and one nginx terminating TLS in front of both.

nginx sends each request to one host, and to the other when the first can't be reached or drops the
connection (`proxy_next_upstream error timeout http_502 non_idempotent`): a POST in flight on a host
that dies is sent again to the live one; every path of the app takes a repeat (callbacks are
deduplicated, beats carry their position, an exam start gives back the attempt in progress).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.common import PG_ADMIN_DSN, free_port, wait_for_port, wait_for_workers
from tests.pgtemp import create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
APPID, WECHAT_TOKEN = "wxterm0000000001", "term-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
METRICS_TOKEN = "term-metrics-token"
TEMPLATE_ID = "tmpl-class-open"
SMS_TEMPLATE = "SMS_CLASS_OPEN"  # notice_templates.json
DEBIAN_TOOLS = {"nginx": "nginx", "pgbouncer": "pgbouncer", "redis-server": "redis-server", "openssl": "openssl"}

NGINX_CONF = """worker_processes 2;
worker_rlimit_nofile 30000;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 12000; }}
http {{
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy; fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    log_format term '$msec "$request_method $uri" $status $request_time "$upstream_addr" "$upstream_status" $connection_requests';
    access_log {dir}/access.log term buffer=256k flush=1s;
    # Idle connections to gunicorn are closed here before gunicorn closes them (keepalive 5 s in
    # gunicorn.conf.py): with nginx's default of 60 s a request sent on a connection gunicorn had
    # just closed failed ("upstream prematurely closed connection"). No host is ever marked down
    # (max_fails=0): on a starved machine such failures still came in bursts on both hosts at once,
    # and with max_fails=1 or 3 both were marked down: "no live upstreams", hundreds of 502s. Each
    # request goes on to the other host instead, and a dead host on loopback refuses at once.
    upstream wxapp {{
        server 127.0.0.1:{port_a} max_fails=0;
        server 127.0.0.1:{port_b} max_fails=0;
        keepalive 64;
        keepalive_timeout 4s;
        # A connection to gunicorn belongs to the worker that accepted it, for as long as nginx keeps
        # it; a burst of new connections (the start, the kill) is accepted unevenly, and the share a
        # worker took then stayed its share. Each connection now carries at most 100 requests, so
        # new ones are accepted all along, by the workers free to accept them.
        keepalive_requests 100;
    }}
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        keepalive_requests 100000;
        client_max_body_size 17m;
        location / {{
            proxy_pass http://wxapp;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # Not 1 s: a dead host refuses at once on loopback, but a starved survivor may accept
            # late, and three such timeouts marked it down too ("no live upstreams": 641 502s).
            proxy_connect_timeout 5s;
            proxy_read_timeout 60s;
            proxy_next_upstream error timeout http_502 non_idempotent;
            proxy_next_upstream_tries 2;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def ensure_tools() -> None:
    """nginx, pgbouncer, redis-server and openssl: Debian's packages, installed when missing and root."""
    missing = [pkg for tool, pkg in DEBIAN_TOOLS.items() if not (shutil.which(tool) or Path("/usr/sbin", tool).exists())]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"term: needs {', '.join(missing)} (Debian: sudo apt-get install {' '.join(missing)})")
    print(f"term: installing {' '.join(missing)} from Debian", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True, env=env)
    for service in ("nginx", "pgbouncer"):  # Debian starts them on install: the rehearsal runs its own
        subprocess.run(["service", service, "stop"], capture_output=True)


def _binary(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _stop(proc: subprocess.Popen | None, group: bool = False, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM) if group else proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
        proc.wait(10)


@dataclass
class Host:
    name: str
    port: int
    metrics_dir: Path
    gunicorn: subprocess.Popen | None = None
    scheduler: subprocess.Popen | None = None
    killed_at: float | None = None

    def worker_pids(self) -> list[int]:
        if self.gunicorn is None or self.gunicorn.poll() is not None:
            return []
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{self.gunicorn.pid}/task/{self.gunicorn.pid}/children").read_text().split()
            return [int(pid) for pid in children]
        return []

    def kill(self) -> None:
        """kill -9 of the gunicorn master, its workers and the scheduler, all at once."""
        self.killed_at = time.time()
        pids = [proc.pid for proc in (self.gunicorn, self.scheduler) if proc is not None]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        for proc in (self.gunicorn, self.scheduler):
            if proc is not None:
                proc.wait(10)

    @property
    def alive(self) -> bool:
        return self.killed_at is None


@dataclass
class Stack:
    work: Path
    workers: int = 3
    pool_size: int = 20
    outbox_pool: int = 32
    outbox_rate: float = 500.0
    refused: list[str] = field(default_factory=list)
    extra_env: dict = field(default_factory=dict)  # settings of this run (e.g. --quick's attendance gaps)
    ports: dict = field(default_factory=dict)
    hosts: list[Host] = field(default_factory=list)
    database_url: str = ""       # direct, for seeding and sampling
    app_database_url: str = ""   # through PgBouncer, for the app
    _procs: list = field(default_factory=list)
    _nginx: list | None = None

    # -- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        self.ports = {name: free_port() for name in ("redis", "pgbouncer", "tls", "host_a", "host_b")}
        self.database_url = create_database("wxapp_term", PG_ADMIN_DSN)
        self.database = self.database_url.rsplit("/", 1)[1]
        self._redis()
        self._pgbouncer()
        self.app_database_url = f"postgresql+psycopg://postgres@127.0.0.1:{self.ports['pgbouncer']}/{self.database}"
        self._stand_in()
        self.hosts = [Host("A", self.ports["host_a"], self.work / "metrics-a"),
                      Host("B", self.ports["host_b"], self.work / "metrics-b")]

    def close(self) -> None:
        if self._nginx:
            subprocess.run(self._nginx + ["-s", "stop"], capture_output=True)
        for host in self.hosts:
            _stop(host.scheduler, group=True)
            _stop(host.gunicorn, group=True, timeout=30)
        for proc in reversed(self._procs):
            _stop(proc)
        self._procs.clear()
        if self.database_url:
            with contextlib.suppress(Exception):
                drop_database(self.database_url, PG_ADMIN_DSN)
            self.database_url = ""

    # -- the services ---------------------------------------------------------------------------------

    def _redis(self) -> None:
        proc = subprocess.Popen(["redis-server", "--port", str(self.ports["redis"]), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no", "--maxclients", "20000"],
                                stdout=subprocess.DEVNULL)
        self._procs.append(proc)
        wait_for_port(self.ports["redis"])

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['redis']}/0"

    def _pgbouncer(self) -> None:
        root = self.work / "pgbouncer"
        root.mkdir()
        (root / "users.txt").write_text('"postgres" ""\n')
        (root / "pgbouncer.ini").write_text(
            f"[databases]\n* = host=127.0.0.1 port=5432\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {self.ports['pgbouncer']}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {root / 'users.txt'}\npool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\nreserve_pool_size = 0\nmax_client_conn = 4000\n"
            f"admin_users = postgres\nstats_users = postgres\n"
            "ignore_startup_parameters = extra_float_digits\n")
        command = [_binary("pgbouncer"), str(root / "pgbouncer.ini")]
        if os.geteuid() == 0:  # pgbouncer refuses to run as root
            os.chmod(self.work, 0o755)
            for path in [root, *root.iterdir()]:
                shutil.chown(path, "postgres", "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        self._procs.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root))
        wait_for_port(self.ports["pgbouncer"])

    def _stand_in(self) -> None:
        config = {"refused": self.refused, "token": WECHAT_TOKEN, "aes_key": AES_KEY, "appid": APPID,
                  "callback_url": f"https://127.0.0.1:{self.ports['tls']}/wechat"}
        path = self.work / "standin.json"
        path.write_text(json.dumps(config))
        proc = subprocess.Popen([sys.executable, "-m", "bench.rehearsal.standin", str(path)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        self._procs.append(proc)
        line = proc.stdout.readline().split()
        if not line or line[0] != "PORTS":
            raise RuntimeError("the stand-in did not start")
        self.ports["wechat"], self.ports["sms"] = int(line[1]), int(line[2])

    def env(self, host: Host | None = None, direct: bool = False) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update({
            "WXAPP_ENV": "production", "SECRET_KEY": "term-secret-" + "x" * 40, "PII_KEY": "term-pii-key-" + "y" * 40,
            "DATABASE_URL": self.database_url if direct else self.app_database_url,
            "DATABASE_PGBOUNCER": "0" if direct else "1",
            "REDIS_URL": self.redis_url, "PUBLIC_BASE_URL": f"https://127.0.0.1:{self.ports['tls']}", "PROXY_COUNT": "1",
            "WECHAT_APPID": APPID, "WECHAT_SECRET": "term-secret", "WECHAT_TOKEN": WECHAT_TOKEN, "WECHAT_AES_KEY": AES_KEY,
            "WECHAT_API_BASE": f"http://127.0.0.1:{self.ports['wechat']}/", "WECHAT_TEMPLATE_CLASS_OPEN": TEMPLATE_ID,
            "SMS_BACKEND": "aliyun", "SMS_ACCESS_KEY_ID": "term-key", "SMS_ACCESS_KEY_SECRET": "term-key-secret",
            "SMS_ENDPOINT": f"http://127.0.0.1:{self.ports['sms']}", "METRICS_TOKEN": METRICS_TOKEN,
            "OUTBOX_POOL_SIZE": str(self.outbox_pool), "OUTBOX_RATE_PER_S": str(self.outbox_rate),
            "FACE_MATCH": "off", "STORAGE_URL": str(self.work / "photos"),
            "GUNICORN_WORKERS": str(self.workers), "SCHOOL_PHONE": "0512-12345678",
        })
        env.update(self.extra_env)
        if host is not None:
            env.update({"GUNICORN_BIND": f"127.0.0.1:{host.port}", "PROMETHEUS_MULTIPROC_DIR": str(host.metrics_dir),
                        "GUNICORN_ACCESS_LOG": os.devnull, "WXAPP_INSTANCE": str(self.work / f"instance-{host.name}")})
        return env

    def flask(self, *args: str, direct: bool = True) -> str:
        return subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], env=self.env(direct=direct), cwd=ROOT,
                              check=True, capture_output=True, text=True).stdout

    def start_hosts(self) -> None:
        (self.work / "photos").mkdir(exist_ok=True)
        for host in self.hosts:
            log = open(self.work / f"gunicorn-{host.name}.log", "w")
            host.gunicorn = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
                                             cwd=ROOT, env=self.env(host), stdout=log, stderr=log, start_new_session=True)
        for host in self.hosts:
            wait_for_port(host.port, 60)
            wait_for_workers(str(self.work / f"gunicorn-{host.name}.log"), self.workers, 120)
            log = open(self.work / f"scheduler-{host.name}.log", "w")
            host.scheduler = subprocess.Popen([str(VENV_BIN / "flask"), "--app", "wsgi", "scheduler", "run"], cwd=ROOT,
                                              env=self.env(host), stdout=log, stderr=log, start_new_session=True)
        self._start_nginx()

    def _start_nginx(self) -> None:
        work = self.work
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{work}/key.pem",
                        "-out", f"{work}/cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
        os.chmod(work, 0o755)
        (work / "nginx.conf").write_text(NGINX_CONF.format(dir=work, tls_port=self.ports["tls"],
                                                           port_a=self.hosts[0].port, port_b=self.hosts[1].port))
        self._nginx = [_binary("nginx"), "-c", f"{work}/nginx.conf", "-p", str(work)]
        subprocess.run(self._nginx, check=True)
        wait_for_port(self.ports["tls"])

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.ports['tls']}"

    # -- what the soak samples ------------------------------------------------------------------------

    def pg_connections(self) -> int:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            return int(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                                    (self.database,)).fetchone()[0])

    def pools(self) -> list[dict]:
        dsn = f"host=127.0.0.1 port={self.ports['pgbouncer']} dbname=pgbouncer user=postgres"
        with psycopg.connect(dsn, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
            cur = conn.execute("SHOW POOLS")
            names = [c.name for c in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()
                    if dict(zip(names, row, strict=True)).get("database") == self.database]


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# Who spent the machine's CPU, by what each process is (the rehearsal shares 2 cores among all of them).
ROLES = (("scheduler", "scheduler run"), ("web", "gunicorn"), ("locust", "locust"), ("stand-in", "standin"),
         ("nginx", "nginx"), ("pgbouncer", "pgbouncer"), ("postgres", "postgres"), ("redis", "redis-server"))


def cpu_by_pid() -> dict[int, tuple[str, float]]:
    """Every process's role (ROLES, else "other") and CPU seconds so far (user + system); and the
    machine's idle and stolen seconds (under the keys -1 and -2)."""
    out: dict[int, tuple[str, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if not command:  # a kernel thread, or a process that ended and awaits its parent: it keeps its last reading
            continue
        role = next((name for name, marker in ROLES if marker in command), "other")
        out[int(proc.name)] = (role, (int(fields[11]) + int(fields[12])) / tick)
    # The machine's idle time, and the time its virtual CPUs waited for the hypervisor ("steal": another
    # tenant's work). Both under negative keys, so that a run on a shared machine says how shared it was.
    with open("/proc/stat") as stat:
        cores = stat.readline().split()[1:]
    out[-1] = ("idle", (int(cores[3]) + int(cores[4])) / tick)  # idle + iowait
    out[-2] = ("stolen", int(cores[7]) / tick)
    return out


def cpu_spent(first: dict[int, tuple[str, float]], last: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds by role between two `cpu_by_pid` readings (a process that began after the first counts
    from 0; one that ended keeps its last reading, the caller merges readings as it goes)."""
    spent: dict[str, float] = {}
    for pid, (role, seconds) in last.items():
        spent[role] = spent.get(role, 0.0) + spent_since(first, pid, role, seconds)
    return {role: round(seconds, 1) for role, seconds in sorted(spent.items(), key=lambda kv: -kv[1])}


def spent_since(first: dict[int, tuple[str, float]], pid: int, role: str, seconds: float) -> float:
    """A process's CPU seconds since the `first` reading (all of them if it began later, or if its pid
    then belonged to another kind of process)."""
    before = first.get(pid)
    return seconds - (before[1] if before and before[0] == role and before[1] <= seconds else 0.0)


def temporary_work() -> contextlib.AbstractContextManager[str]:
    return tempfile.TemporaryDirectory(prefix="wxapp-term-")
