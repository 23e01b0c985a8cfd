"""deploy/: the Dockerfile, Compose stack, Kubernetes manifests and SLURM script agree with
each other, with dreg's configuration schema and with the `dask` commands that exist.

Fast and offline: no Docker engine, Kubernetes cluster or SLURM is needed.  The
Kubernetes CronJob's launcher script runs against a stub `kubectl`.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import py_compile
import re
import shutil
import ssl
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from dreg.job.config import parse_config

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "kubernetes"
YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml") and "certs" not in p.parts)
TLS_FLAGS = ("--tls-ca-file", "--tls-cert", "--tls-key")


def load_all(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def load_one(path: Path) -> Any:
    (doc,) = load_all(path)
    return doc


def by_kind(path: Path) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in load_all(path)}


def flag_value(args: list[str], flag: str) -> str:
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


def container(pod_spec: dict, name: str) -> dict:
    (c,) = [c for c in pod_spec["containers"] if c["name"] == name]
    return c


def mounted_file(path: str, mounts: dict[str, Any]) -> Any:
    """The mount (keyed by container path) that provides `path`: the file itself or a folder above it."""
    p = PurePosixPath(path)
    for target, what in mounts.items():
        if p == PurePosixPath(target) or PurePosixPath(target) in p.parents:
            return what
    raise AssertionError(f"{path} is not under any mount: {sorted(mounts)}")


# --------------------------------------------------------------------------- every file
@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs, f"{path} holds no document"
    assert all(isinstance(d, dict) for d in docs)


def test_expected_files_exist() -> None:
    for rel in (
        "Dockerfile",
        "compose.yaml",
        "make-certs.sh",
        "config/dreg.yaml",
        "README.md",
        "kubernetes/daskjob.yaml",
        "kubernetes/cronjob.yaml",
        "kubernetes/rbac.yaml",
        "kubernetes/configmap.yaml",
        "kubernetes/secret-example.yaml",
        "kubernetes/kustomization.yaml",
        "slurm/dreg-fit.sbatch",
        "slurm/run_dreg.py",
    ):
        assert (DEPLOY / rel).is_file(), rel
    assert (REPO / ".dockerignore").is_file()


def test_no_removed_hyphenated_dask_commands() -> None:
    # `dask-scheduler` / `dask-worker` were removed in distributed 2026.6
    for path in [p for p in DEPLOY.rglob("*") if p.is_file() and "certs" not in p.parts]:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"dask-(scheduler|worker)", text), f"{path} names a removed command"


# --------------------------------------------------------------------------- the `dask` commands
def _dask_help(sub: str) -> str:
    exe = Path(sys.executable).with_name("dask")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "dask"]
    out = subprocess.run([*cmd, sub, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def dask_help() -> dict[str, str]:
    return {"scheduler": _dask_help("scheduler"), "worker": _dask_help("worker")}


def dask_commands() -> list[tuple[str, str, list[str]]]:
    """(where, scheduler|worker, argv) of every `dask ...` command in Compose and the DaskJob."""
    found = []
    for name, svc in load_one(DEPLOY / "compose.yaml")["services"].items():
        cmd = svc.get("command")
        if cmd and cmd[0] == "dask":
            found.append((f"compose:{name}", cmd[1], cmd))
    spec = load_one(K8S / "daskjob.yaml")["spec"]["cluster"]["spec"]
    for role in ("scheduler", "worker"):
        for c in spec[role]["spec"]["containers"]:
            found.append((f"daskjob:{role}", c["args"][1], c["args"]))
    return found


def test_dask_commands_are_the_two_word_cli_with_tls() -> None:
    cmds = dask_commands()
    roles = sorted({role for _, role, _ in cmds})
    assert roles == ["scheduler", "worker"]
    for where, role, argv in cmds:
        assert argv[:2] == ["dask", role], where
        for flag in TLS_FLAGS:
            assert flag_value(argv, flag).startswith("/tls/"), (where, flag)
        assert flag_value(argv, "--protocol") == "tls", where
        if role == "worker":
            address = argv[2]
            assert address.startswith("tls://") or address == "$(DASK_SCHEDULER_ADDRESS)", where


def test_every_dask_flag_used_exists(dask_help: dict[str, str]) -> None:
    for where, role, argv in dask_commands():
        for arg in argv:
            if arg.startswith("--"):
                flag = arg.split("=", 1)[0]
                assert re.search(rf"(^|[\s/]){re.escape(flag)}\b", dask_help[role], re.M), (
                    f"{where}: `dask {role}` has no option {flag}"
                )


# --------------------------------------------------------------------------- Compose
@pytest.fixture(scope="module")
def compose() -> dict:
    return load_one(DEPLOY / "compose.yaml")


def compose_mounts(svc: dict) -> dict[str, str]:
    """container path -> host source (relative to deploy/) or volume name."""
    out = {}
    for v in svc.get("volumes", []):
        m = re.fullmatch(r"(?P<src>\$\{[^}]*\}|[^:]+):(?P<target>[^:]+)(?::(?P<mode>ro|rw))?", v)
        assert m, f"unexpected volume {v!r}"
        src = re.sub(r"^\$\{\w+:-(.*)\}$", r"\1", m["src"])  # ${VAR:-default} -> default
        out[m["target"]] = src
    return out


def test_compose_services(compose: dict) -> None:
    services = compose["services"]
    workers = [n for n in services if n.startswith("worker")]
    assert "scheduler" in services and "job" in services and len(workers) >= 2
    images = {svc["image"] for svc in services.values()}
    assert len(images) == 1, f"one image for every role, got {images}"
    for svc in services.values():
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile" and svc["build"]["context"] == ".."


def test_compose_ports_are_published_on_loopback_only(compose: dict) -> None:
    published = 0
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name} publishes {port!r}"
            published += 1
    assert published >= 2  # scheduler and dashboard, for the operator's own machine


def test_compose_scheduler_healthcheck_gates_workers_and_job(compose: dict) -> None:
    services = compose["services"]
    assert services["scheduler"]["healthcheck"]["test"]
    for name, svc in services.items():
        if name != "scheduler":
            assert svc["depends_on"]["scheduler"]["condition"] == "service_healthy", name
    assert services["job"]["restart"] == "no"


def test_compose_tls_files_are_mounted_where_the_flags_say(compose: dict) -> None:
    for name, svc in compose["services"].items():
        mounts = compose_mounts(svc)
        if svc["command"][0] == "dask":
            for flag in TLS_FLAGS:
                src = mounted_file(flag_value(svc["command"], flag), mounts)
                assert src.startswith("./certs/") and not src.endswith("ca.key"), (name, src)
        assert not any(s.endswith("ca.key") for s in mounts.values()), f"{name} mounts the CA key"


def test_compose_job_runs_dreg_fit_with_the_mounted_config(compose: dict) -> None:
    job = compose["services"]["job"]
    cmd = job["command"]
    assert cmd[:3] == ["dreg", "fit", "--config"]
    config_path = cmd[3]
    assert flag_value(cmd, "--scheduler") == "tls://scheduler:8786"
    source = compose_mounts(job)[config_path]
    host_file = (DEPLOY / source).resolve()
    assert host_file == (DEPLOY / "config" / "dreg.yaml").resolve()
    cfg = parse_config(yaml.safe_load(host_file.read_text(encoding="utf-8")), str(host_file))
    assert cfg.cluster.tls is not None
    for path in (cfg.cluster.tls.ca_file, cfg.cluster.tls.cert, cfg.cluster.tls.key):
        assert mounted_file(path, compose_mounts(job)).startswith("./certs/")
    # the lake and the registry are mounted in the job and in every worker (workers read the lake
    # and write the statistics cache beside the registry)
    for name, svc in compose["services"].items():
        if name == "job" or name.startswith("worker"):
            mounted_file(cfg.data.path, compose_mounts(svc))
            mounted_file(cfg.output.registry, compose_mounts(svc))


# --------------------------------------------------------------------------- Kubernetes
@pytest.fixture(scope="module")
def daskjob() -> dict:
    return load_one(K8S / "daskjob.yaml")


@pytest.fixture(scope="module")
def configmaps() -> dict[str, dict]:
    return {name: d for (kind, name), d in by_kind(K8S / "configmap.yaml").items() if kind == "ConfigMap"}


def pod_mounts(pod_spec: dict, c: dict) -> dict[str, dict]:
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    return {m["mountPath"]: volumes[m["name"]] for m in c.get("volumeMounts", [])}


def test_daskjob_shape(daskjob: dict) -> None:
    assert daskjob["apiVersion"] == "kubernetes.dask.org/v1" and daskjob["kind"] == "DaskJob"
    assert set(daskjob["spec"]) == {"job", "cluster"}
    cluster = daskjob["spec"]["cluster"]["spec"]
    assert cluster["worker"]["replicas"] >= 1
    service = cluster["scheduler"]["service"]
    assert service["type"] == "ClusterIP", "never expose the scheduler outside the cluster"
    # the operator names the cluster after the DaskJob: the Service must select that cluster's scheduler
    assert service["selector"]["dask.org/cluster-name"] == daskjob["metadata"]["name"] == "DREG_RUN_NAME"


def test_daskjob_runner_runs_dreg_fit_once(daskjob: dict, configmaps: dict[str, dict]) -> None:
    pod = daskjob["spec"]["job"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (runner,) = pod["containers"]
    args = runner["args"]
    assert args[:3] == ["dreg", "fit", "--config"]
    assert flag_value(args, "--scheduler") == "$(DASK_SCHEDULER_ADDRESS)"
    env = {e["name"]: e.get("value") for e in runner["env"]}
    assert env["DASK_SCHEDULER_ADDRESS"] == "tls://DREG_RUN_NAME-scheduler:8786"
    # --config names a file of the mounted ConfigMap
    config_path = PurePosixPath(args[3])
    volume = mounted_file(str(config_path), pod_mounts(pod, runner))
    cm = configmaps[volume["configMap"]["name"]]
    items = {i["path"]: i["key"] for i in volume["configMap"].get("items", [])}
    key = items.get(config_path.name, config_path.name)
    assert key in cm["data"]


def test_daskjob_uses_one_image_and_tls_everywhere(daskjob: dict) -> None:
    spec = daskjob["spec"]
    pods = {
        "runner": spec["job"]["spec"],
        "scheduler": spec["cluster"]["spec"]["scheduler"]["spec"],
        "worker": spec["cluster"]["spec"]["worker"]["spec"],
    }
    images = {c["image"] for p in pods.values() for c in p["containers"]}
    assert len(images) == 1, f"scheduler, workers and runner must share one image: {images}"
    for role, pod in pods.items():
        assert pod["securityContext"]["runAsNonRoot"] is True, role
        assert pod.get("automountServiceAccountToken") is False, role
        for c in pod["containers"]:
            tls = mounted_file("/tls/tls.key", pod_mounts(pod, c))
            assert tls["secret"]["secretName"] == "dreg-tls", role
            if role == "worker":
                env = {e["name"]: e.get("value") for e in c["env"]}
                assert env["DASK_SCHEDULER_ADDRESS"].startswith("tls://")


def test_configmap_holds_a_valid_dreg_config_and_the_daskjob(daskjob: dict, configmaps: dict[str, dict]) -> None:
    text = configmaps["dreg-config"]["data"]["dreg.yaml"]
    cfg = parse_config(yaml.safe_load(text), "in configmap.yaml")
    assert cfg.output.registry.startswith("s3://")
    assert cfg.cluster.tls is not None
    runner = daskjob["spec"]["job"]["spec"]
    mounts = pod_mounts(runner, runner["containers"][0])
    for path in (cfg.cluster.tls.ca_file, cfg.cluster.tls.cert, cfg.cluster.tls.key):
        vol = mounted_file(path, mounts)
        assert vol["secret"]["secretName"] == "dreg-tls"
        assert PurePosixPath(path).name in {i["path"] for i in vol["secret"]["items"]}
    # the embedded DaskJob is daskjob.yaml (edit both, or regenerate the ConfigMap)
    embedded = configmaps["dreg-retrain-manifests"]["data"]["daskjob.yaml"]
    assert yaml.safe_load(embedded) == daskjob


def test_secret_example_names_the_keys_the_pods_mount(daskjob: dict) -> None:
    (secret,) = load_all(K8S / "secret-example.yaml")
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "dreg-tls"
    keys = set(secret["stringData"])
    assert keys == {"ca.crt", "tls.crt", "tls.key"}
    assert "PRIVATE KEY-----\n" in secret["stringData"]["tls.key"]
    assert not re.search(r"^[A-Za-z0-9+/=]{60,}$", (K8S / "secret-example.yaml").read_text(), re.M), "real key?"
    spec = daskjob["spec"]
    for pod in (
        spec["job"]["spec"],
        spec["cluster"]["spec"]["scheduler"]["spec"],
        spec["cluster"]["spec"]["worker"]["spec"],
    ):
        for vol in pod["volumes"]:
            if "secret" in vol:
                assert {i["key"] for i in vol["secret"]["items"]} <= keys


@pytest.fixture(scope="module")
def cronjob() -> dict:
    return load_one(K8S / "cronjob.yaml")


def launcher(cronjob: dict) -> tuple[dict, dict]:
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    return pod, c


def test_cronjob_policy(cronjob: dict) -> None:
    assert cronjob["apiVersion"] == "batch/v1" and cronjob["kind"] == "CronJob"
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0
    pod, _ = launcher(cronjob)
    assert pod["restartPolicy"] == "Never"


def test_cronjob_mounts_the_daskjob_manifest_and_uses_the_launcher_account(
    cronjob: dict, configmaps: dict[str, dict]
) -> None:
    pod, c = launcher(cronjob)
    env = {e["name"]: e.get("value") for e in c["env"]}
    manifest = env["MANIFEST"]
    vol = mounted_file(manifest, pod_mounts(pod, c))
    cm_name = vol["configMap"]["name"]
    items = {i["path"]: i["key"] for i in vol["configMap"]["items"]}
    assert cm_name == "dreg-retrain-manifests" and items[PurePosixPath(manifest).name] == "daskjob.yaml"
    assert "daskjob.yaml" in configmaps[cm_name]["data"]
    script = c["command"][-1]
    assert "kubectl create -f -" in script and "DREG_RUN_NAME" in script
    rbac = by_kind(K8S / "rbac.yaml")
    assert ("ServiceAccount", pod["serviceAccountName"]) in rbac


def test_rbac_lets_the_launcher_create_daskjobs_and_read_the_runner() -> None:
    rbac = by_kind(K8S / "rbac.yaml")
    role = rbac[("Role", "dreg-retrain-launcher")]
    verbs: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for res in rule["resources"]:
                verbs.setdefault((group, res), set()).update(rule["verbs"])
    assert {"create", "get", "list", "watch", "delete"} <= verbs[("kubernetes.dask.org", "daskjobs")]
    assert "get" in verbs[("", "pods")] and "get" in verbs[("", "pods/log")]
    assert not any("*" in v for v in verbs.values()) and ("", "secrets") not in verbs
    binding = rbac[("RoleBinding", "dreg-retrain-launcher")]
    assert binding["roleRef"]["name"] == "dreg-retrain-launcher"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "dreg-retrain-launcher"}]
    assert rbac[("ServiceAccount", "dreg-dask")]["automountServiceAccountToken"] is False


def test_kustomization_lists_existing_files_but_not_the_example_secret() -> None:
    kust = load_one(K8S / "kustomization.yaml")
    assert kust["resources"] and all((K8S / r).is_file() for r in kust["resources"])
    assert "secret-example.yaml" not in kust["resources"] and "daskjob.yaml" not in kust["resources"]


STUB_KUBECTL = r"""#!/bin/bash
# stub kubectl: records what it is asked, answers like the operator would
log="$STUB_DIR/calls"; echo "$*" >> "$log"
case "$1 $2" in
  "create -f") cat > "$STUB_DIR/created.yaml"; echo "daskjob created" ;;
  "get daskjob") echo "$STUB_STATUS" ;;
  "logs pod/"*) echo "dreg: wrote s3://my-bucket/models/revenue-lasso/X" ;;
  "get pod") echo "$STUB_EXIT" ;;
  "get daskjobs") for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "daskjob.kubernetes.dask.org/dreg-retrain-old$i"; done ;;
  "delete --wait=false") echo "deleted" ;;
  *) echo "stub kubectl: unexpected $*" >&2; exit 9 ;;
esac
"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(("status", "exit_code"), [("Successful", "0"), ("Failed", "5"), ("Failed", "")])
def test_cronjob_launcher_script(tmp_path: Path, cronjob: dict, status: str, exit_code: str) -> None:
    _, c = launcher(cronjob)
    assert c["command"][:2] == ["/bin/bash", "-c"]
    (tmp_path / "kubectl").write_text(STUB_KUBECTL, encoding="utf-8")
    (tmp_path / "kubectl").chmod(0o755)
    env = {e["name"]: e["value"] for e in c["env"]}
    env.update(
        PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
        HOME=str(tmp_path),
        MANIFEST=str(K8S / "daskjob.yaml"),
        POLL_SECONDS="0",
        STUB_DIR=str(tmp_path),
        STUB_STATUS=status,
        STUB_EXIT=exit_code,
    )
    out = subprocess.run(["bash", "-c", c["command"][2]], env=env, capture_output=True, text=True, timeout=30)
    expected = int(exit_code) if exit_code else (0 if status == "Successful" else 1)
    assert out.returncode == expected, out.stdout + out.stderr
    created = (tmp_path / "created.yaml").read_text(encoding="utf-8")
    assert "DREG_RUN_NAME" not in created
    job = yaml.safe_load(created)
    name = job["metadata"]["name"]
    assert re.fullmatch(r"dreg-retrain-\d{14}", name)
    assert job["spec"]["cluster"]["spec"]["scheduler"]["service"]["selector"]["dask.org/cluster-name"] == name
    assert f"tls://{name}-scheduler:8786" in created
    calls = (tmp_path / "calls").read_text(encoding="utf-8").splitlines()
    assert f"get pod {name}-runner" in " ".join(calls)
    # keeps the newest KEEP_DASKJOBS (10 of the stub's 12): deletes the two oldest
    deleted = [c for c in calls if c.startswith("delete")]
    assert deleted and "dreg-retrain-old1 " in deleted[0] + " " and "dreg-retrain-old3" not in " ".join(deleted)


# --------------------------------------------------------------------------- Dockerfile
def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    m = re.search(r'pip install --no-cache-dir "\.\[([^\]]+)\]"', text)
    assert m, "installs dreg from the build context with extras"
    assert set(m.group(1).split(",")) == {"s3", "dashboard", "monitoring", "tls"}
    users = [ln.split(None, 1)[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must not run as root"
    assert not any(ln.startswith("ENTRYPOINT") for ln in lines), "one image, three commands: no fixed entrypoint"
    assert [ln for ln in lines if ln.startswith("CMD")] == ['CMD ["dreg", "--help"]']
    # the Kubernetes pods run as that uid
    runner = load_one(K8S / "daskjob.yaml")["spec"]["job"]["spec"]
    assert str(runner["securityContext"]["runAsUser"]) == users[-1].split(":")[0]


def _dockerfile_env(lines: list[str]) -> dict[str, str]:
    """The image's ENV values, with ``${ARG}`` replaced by the ARG's default."""
    env: dict[str, str] = {}
    text = " ".join(ln.rstrip("\\").strip() for ln in lines if not ln.startswith("#"))
    build_args = dict(re.findall(r"(?:^| )ARG (\w+)=(\S+)", text))
    for stmt in re.findall(r"ENV (.*?)(?= (?:RUN|COPY|USER|WORKDIR|EXPOSE|CMD|FROM|ARG) |$)", text):
        for key, value in re.findall(r"(\w+)=(\S+)", stmt):
            env[key] = re.sub(r"\$\{(\w+)\}", lambda m: build_args.get(m.group(1), ""), value)
    return env


def test_dockerfile_warms_the_numba_cache_as_the_runtime_user() -> None:
    """The image starts warm: `dreg warmup` runs at build, after `USER`, into a
    NUMBA_CACHE_DIR that user owns (outside /tmp), for a CPU-independent target."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    env = _dockerfile_env(lines)
    cache = env["NUMBA_CACHE_DIR"]
    assert PurePosixPath(cache).is_absolute() and not cache.startswith("/tmp"), cache
    assert env.get("NUMBA_CPU_NAME") == "generic", "a cache keyed to the build host's CPU recompiles on other nodes"
    warm = [i for i, ln in enumerate(lines) if ln == "RUN dreg warmup"]
    user = [i for i, ln in enumerate(lines) if ln.startswith("USER ")]
    assert warm and user and warm[-1] > user[-1], "dreg warmup must run as the runtime user"
    assert lines[user[-1]].split(None, 1)[1].split(":")[0] == "10001"
    install = next(i for i, ln in enumerate(lines) if "pip install" in ln)
    assert install < warm[-1]
    # the root step that installs dreg creates the folder and gives it to uid 10001
    root_step = " ".join(lines[install : user[-1]])
    assert re.search(r'mkdir -p [^&]*"\$NUMBA_CACHE_DIR"', root_step)
    assert re.search(r'chown dreg:dreg [^&]*"\$NUMBA_CACHE_DIR"', root_step)


def test_kubernetes_pods_keep_the_image_warm_cache() -> None:
    """No dreg Pod hides the image's numba cache under a volume or points numba elsewhere."""
    cache = _dockerfile_env(
        [ln.strip() for ln in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines() if ln.strip()]
    )["NUMBA_CACHE_DIR"]
    daskjob = load_one(K8S / "daskjob.yaml")
    spec = daskjob["spec"]
    pods = [spec["job"]["spec"], spec["cluster"]["spec"]["scheduler"]["spec"], spec["cluster"]["spec"]["worker"]["spec"]]
    for pod in pods:
        for c in pod["containers"]:
            assert "NUMBA_CACHE_DIR" not in {e["name"] for e in c.get("env", [])}
            for target in pod_mounts(pod, c):
                t = PurePosixPath(target)
                assert t != PurePosixPath(cache) and t not in PurePosixPath(cache).parents, (target, cache)


def test_dockerignore_keeps_keys_and_clutter_out() -> None:
    entries = {
        ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines() if ln.strip() and not ln.startswith("#")
    }
    for needed in (".git", ".venv", "venv", "dreg-demo", "benchmarks/data", "**/__pycache__", "deploy/certs"):
        assert needed in entries, needed


# --------------------------------------------------------------------------- certificates
@pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("bash") is None, reason="needs openssl and bash")
def test_make_certs_gives_certificates_dask_accepts(tmp_path: Path) -> None:
    from distributed.security import Security

    out = subprocess.run(
        ["bash", str(DEPLOY / "make-certs.sh"), str(tmp_path / "certs")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    d = tmp_path / "certs"
    assert sorted(p.name for p in d.iterdir()) == ["ca.crt", "ca.key", "tls.crt", "tls.key"]
    assert (d / "tls.key").stat().st_mode & 0o077 == 0 and (d / "ca.key").stat().st_mode & 0o077 == 0
    text = subprocess.run(
        ["openssl", "x509", "-in", str(d / "tls.crt"), "-noout", "-text"], capture_output=True, text=True
    ).stdout
    for san in ("DNS:scheduler", "DNS:localhost", "IP Address:127.0.0.1"):
        assert san in text

    # a mutual-TLS handshake between Dask's scheduler (server) and client contexts
    sec = Security(
        tls_ca_file=str(d / "ca.crt"),
        tls_scheduler_cert=str(d / "tls.crt"),
        tls_scheduler_key=str(d / "tls.key"),
        tls_client_cert=str(d / "tls.crt"),
        tls_client_key=str(d / "tls.key"),
        require_encryption=True,
    )
    server_ctx = sec.get_listen_args("scheduler")["ssl_context"]
    client_ctx = sec.get_connection_args("client")["ssl_context"]
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    client = client_ctx.wrap_bio(c_in, c_out, server_side=False)
    done = {"s": False, "c": False}
    for _ in range(20):
        for key, end in (("c", client), ("s", server)):
            if not done[key]:
                try:
                    end.do_handshake()
                    done[key] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            break
    assert all(done.values())
    assert server.getpeercert()["subject"]  # the server saw the client's certificate: mutual TLS


# --------------------------------------------------------------------------- SLURM
def test_sbatch_script_is_valid_bash() -> None:
    sbatch = DEPLOY / "slurm" / "dreg-fit.sbatch"
    if shutil.which("bash"):
        out = subprocess.run(["bash", "-n", str(sbatch)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    text = sbatch.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/bash")
    assert re.search(r"^#SBATCH --ntasks=(\d+)$", text, re.M) and int(re.search(r"--ntasks=(\d+)", text).group(1)) >= 3
    assert "DASK_DISTRIBUTED__COMM__TLS__CA_FILE" in text and "REQUIRE_ENCRYPTION" in text
    assert re.search(r'^exit "\$rc"$', text, re.M), "exits with dreg's exit code"


def test_sbatch_warms_a_shared_numba_cache_before_srun() -> None:
    text = (DEPLOY / "slurm" / "dreg-fit.sbatch").read_text(encoding="utf-8")
    code = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    export = [i for i, ln in enumerate(code) if ln.startswith("export NUMBA_CACHE_DIR=")]
    warm = [i for i, ln in enumerate(code) if ln == "dreg warmup"]
    srun = [i for i, ln in enumerate(code) if ln.startswith("srun ")]
    activate = [i for i, ln in enumerate(code) if ln.startswith("source ") and "activate" in ln]
    assert export and warm and srun and activate
    # exported (so every srun task inherits it), then warmed in the venv, then the tasks start
    assert export[0] < warm[0] < srun[0] and activate[0] < warm[0]
    assert "$HOME" in code[export[0]], "the default cache is on the shared filesystem (the home folder)"
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "dreg warmup" in readme and "NUMBA_CACHE_DIR" in readme


def _load_run_dreg():
    path = DEPLOY / "slurm" / "run_dreg.py"
    spec = importlib.util.spec_from_file_location("run_dreg_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_dreg_compiles_and_imports_dask_jobqueue_only_in_main(tmp_path: Path) -> None:
    path = DEPLOY / "slurm" / "run_dreg.py"
    py_compile.compile(str(path), cfile=str(tmp_path / "run_dreg.pyc"), doraise=True)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")

    def jobqueue_imports(node: ast.AST) -> list[ast.AST]:
        return [
            n
            for n in ast.walk(node)
            if (isinstance(n, ast.ImportFrom) and (n.module or "").startswith("dask_jobqueue"))
            or (isinstance(n, ast.Import) and any(a.name.startswith("dask_jobqueue") for a in n.names))
        ]

    assert jobqueue_imports(main), "main() uses dask_jobqueue's SLURMRunner"
    assert len(jobqueue_imports(tree)) == len(jobqueue_imports(main)), "dask_jobqueue is imported inside main only"
    already = "dask_jobqueue" in sys.modules
    module = _load_run_dreg()
    assert already or "dask_jobqueue" not in sys.modules
    assert "SLURMRunner(" in path.read_text(encoding="utf-8")
    # the flags the sbatch script passes exist
    sbatch = (DEPLOY / "slurm" / "dreg-fit.sbatch").read_text(encoding="utf-8")
    srun = sbatch[sbatch.index("srun ") :].split("\n\n")[0].split("\nsrun_rc")[0]
    flags = re.findall(r"(--[a-z-]+)\s", srun.replace("\\\n", " "))
    flags = [f for f in flags if f != "--kill-on-bad-exit"]
    assert {"--config", "--scheduler-file", "--exit-code-file"} <= set(flags)
    argv = []
    for f in flags:
        argv += [f, "x"]
    args = module._parse(argv)
    assert args.config == "x" and args.exit_code_file == "x"


def test_run_dreg_reports_a_missing_dask_jobqueue(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = _load_run_dreg()
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)  # as on a machine without it
    monkeypatch.setitem(sys.modules, "dask_jobqueue.slurm", None)
    assert module.main(["--config", "x.yaml"]) == 2
    assert "pip install dask-jobqueue" in capsys.readouterr().err


# --------------------------------------------------------------------------- the README
def test_readme_documents_every_exit_code_and_the_steps() -> None:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    from dreg.job import errors

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.DregError)]
    codes = sorted({errors.EXIT_OK} | {c.exit_code for c in classes})  # what `dreg` exits with (cli.main)
    assert codes == [0, 1, 2, 3, 4, 5]
    for code in codes:
        assert re.search(rf"^\| *`?{code}`? *\|", text, re.M), f"exit code {code} is not in the table"
    for needed in (
        "docker build -f deploy/Dockerfile",
        "make-certs.sh",
        "kubectl -n dreg create secret generic dreg-tls",
        "helm install",
        "kubectl apply -k deploy/kubernetes",
        "kubectl -n dreg create job --from=cronjob/dreg-retrain",
        "port-forward --address 127.0.0.1",
        "docker compose -f deploy/compose.yaml",
        "sbatch deploy/slurm/dreg-fit.sbatch",
    ):
        assert needed in text, needed
