"""TLS: a fit over a `dask scheduler` / `dask worker` cluster that requires certificates,
and a client without them is refused.  Everything on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.job.lake_helpers import config_dict, fit_in_memory, parse, read_in_memory, write_lake

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _make_certs(folder: Path) -> dict[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    ca_key = key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dreg test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = key()
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dreg-cluster")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = {"ca_file": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    paths["ca_file"].write_bytes(ca.public_bytes(pem))
    paths["cert"].write_bytes(leaf.public_bytes(pem))
    paths["key"].write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return {k: str(v) for k, v in paths.items()}


def _dask() -> str:
    return str(Path(sys.executable).with_name("dask"))


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    certs = _make_certs(folder)
    sched_file = folder / "scheduler.json"
    tls = ["--tls-ca-file", certs["ca_file"], "--tls-cert", certs["cert"], "--tls-key", certs["key"]]
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"}
    procs = [
        subprocess.Popen(
            [
                _dask(),
                "scheduler",
                "--protocol",
                "tls",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
                *tls,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    deadline = time.monotonic() + 60
    while not sched_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sched_file.exists(), "the TLS scheduler did not start"
    address = json.loads(sched_file.read_text())["address"]
    assert address.startswith("tls://127.0.0.1:")
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                [_dask(), "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard", *tls],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        yield address, certs, sched_file
    finally:
        # workers first, the scheduler once they are gone: a nanny whose scheduler is
        # already gone takes seconds to give up (8 s of teardown when all were stopped at once)
        for group in (procs[1:], procs[:1]):
            for p in group:
                p.send_signal(signal.SIGINT)
            for p in group:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()


def test_fit_over_tls_equals_in_memory_fit(tls_cluster, tmp_path, rng):
    from distributed import Client

    from dreg.job.pipeline import run_fit

    address, certs, _ = tls_cluster
    lake = write_lake(tmp_path / "lake", rng, extras=False)
    cfg = parse(config_dict(lake, tmp_path / "reg", cluster={"address": address, "tls": certs}))
    # wait for both workers so the pass really is distributed
    from distributed.security import Security

    sec = Security(
        tls_ca_file=certs["ca_file"],
        tls_client_cert=certs["cert"],
        tls_client_key=certs["key"],
        require_encryption=True,
    )
    with Client(address, security=sec, timeout=30) as c:
        c.wait_for_workers(2, timeout=60)
    out = run_fit(cfg, log=lambda s: None, tty=False)
    assert out.model.run.cluster["address"] == address
    assert out.model.run.cluster["workers"] == 2
    from dreg.job.lake import open_lake

    ref = fit_in_memory(*read_in_memory(open_lake(str(lake)).files))
    np.testing.assert_allclose(out.estimator.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    assert out.estimator.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)


def _client_attempt(address: str, *args: str) -> subprocess.CompletedProcess:
    """Try to connect a fresh Client in its own process (a failed Client can leave
    distributed's event-loop state behind, so attempts must not share a process)."""
    code = (
        "import sys\n"
        "from distributed import Client\n"
        "from distributed.security import Security\n"
        "a = sys.argv[1:]\n"
        "sec = Security(tls_ca_file=a[1], require_encryption=True) if len(a) > 1 else None\n"
        "kw = {'security': sec} if sec else {}\n"
        "c = Client(a[0], timeout=5, **kw)\n"
        "print('CONNECTED', c.scheduler_info()['address'])\n"
    )
    return subprocess.run([sys.executable, "-c", code, address, *args], capture_output=True, text=True, timeout=90)


def test_client_without_certificates_is_refused(tls_cluster):
    import socket
    import ssl

    address, certs, _ = tls_cluster
    host, port = address.removeprefix("tls://").split(":")
    # a TLS handshake that trusts the CA but shows no client certificate is refused
    ctx = ssl.create_default_context(cafile=certs["ca_file"])
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"hello")
                if not tls.recv(1):  # the server closes after rejecting the handshake
                    raise ConnectionError("closed by the scheduler")
    # a Dask client without certificates, or over plain TCP, never connects
    for args in ((address,), (address, certs["ca_file"]), (address.replace("tls://", "tcp://"),)):
        res = _client_attempt(*args)
        assert res.returncode != 0 and "CONNECTED" not in res.stdout, res.stdout + res.stderr
    # with the certificates it does (the refusals above are about the certificates)
    ok = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom distributed import Client\nfrom distributed.security import Security\n"
            "a = sys.argv[1:]\n"
            "sec = Security(tls_ca_file=a[1], tls_client_cert=a[2], tls_client_key=a[3], require_encryption=True)\n"
            "c = Client(a[0], timeout=20, security=sec)\nprint('CONNECTED')\nc.close()\n",
            address,
            certs["ca_file"],
            certs["cert"],
            certs["key"],
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert "CONNECTED" in ok.stdout, ok.stderr


def test_cli_without_tls_settings_exits_4(tls_cluster, tmp_path, rng):
    """`dreg fit` against the TLS scheduler without certificates: exit 4, nothing written."""
    from dreg.job.cli import main

    address, _, _ = tls_cluster
    lake = write_lake(tmp_path / "lake", rng, extras=False)
    cfg = config_dict(lake, tmp_path / "reg", cluster={"address": address, "connect_timeout": 5})
    path = tmp_path / "c.yaml"
    import yaml

    path.write_text(yaml.safe_dump(cfg))
    assert main(["fit", "--config", str(path)]) == 4
    assert not (tmp_path / "reg").exists()


def test_tls_config_requires_tls_address(tmp_path):
    from dreg.job.config import parse_config
    from dreg.job.errors import ConfigError

    with pytest.raises(ConfigError, match="tls://"):
        parse_config(
            {
                "data": {"path": "/x", "target": "y"},
                "cluster": {"address": "tcp://127.0.0.1:8786", "tls": {"ca_file": "a", "cert": "b", "key": "c"}},
                "output": {"registry": "/r", "name": "m"},
            }
        )
