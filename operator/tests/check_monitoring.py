"""Checks of the monitoring pieces, run by operator/tests/validate.sh.

  check_monitoring.py dashboard DASHBOARD.json PROMTOOL
      The Grafana dashboard is valid JSON with a uid, every panel's queries are PromQL that
      promtool parses (Grafana's variables replaced by values), and it shows the metrics
      the operator's README promises.
  check_monitoring.py objects RENDERED.yaml CHART_DIR
      RENDERED (helm template or kubectl kustomize output) has a ConfigMap labelled
      grafana_dashboard: "1" whose JSON is CHART_DIR/dashboards/cairn.json, and a
      PrometheusRule whose spec is CHART_DIR/rules/cairn.rules.yaml.
  check_monitoring.py token RENDERED.yaml INPUT.yaml...
      Every `<tenant>-prometheus-token` Secret that `cairn-operator render` printed for the
      Tenants of the INPUT files holds an HS512 JWT that PyJWT (an implementation
      independent of the operator's) verifies with the root secret key of the tenant's
      config.env, for its root access key, issuer `prometheus`, expiring in about 100
      years, and the tenant's ServiceMonitor scrapes with it.
"""

import json
import re
import subprocess
import sys
import tempfile
import time
import warnings

import yaml

# What the dashboard must show (README, monitoring section).
REQUIRED_METRICS = [
    "minio_cluster_capacity_usable_total_bytes",
    "minio_cluster_capacity_usable_free_bytes",
    "minio_cluster_drive_online_total",
    "minio_cluster_drive_offline_total",
    "minio_cluster_nodes_online_total",
    "minio_cluster_nodes_offline_total",
    "minio_s3_requests_total",
    "minio_s3_requests_4xx_errors_total",
    "minio_s3_requests_5xx_errors_total",
    "minio_s3_requests_ttfb_seconds_distribution",
    "minio_s3_traffic_received_bytes",
    "minio_s3_traffic_sent_bytes",
    "minio_heal_objects_total",
    "minio_node_process_resident_memory_bytes",
]


def dashboard(path, promtool):
    with open(path) as f:
        board = json.load(f)
    assert board.get("uid"), "the dashboard has no uid"
    exprs = []
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        targets = panel.get("targets") or []
        assert targets, f"panel {panel['title']!r} has no query"
        for t in targets:
            exprs.append((panel["title"], t["expr"]))
    for v in board["templating"]["list"]:
        if v["type"] == "query":
            exprs.append((f"variable {v['name']}", v["definition"]))
    text = "\n".join(e for _, e in exprs)
    missing = [m for m in REQUIRED_METRICS if m not in text]
    assert not missing, f"the dashboard shows none of {missing}"
    assert "histogram_quantile(" in text, "no latency quantiles"

    def promql(expr):
        expr = expr.replace("$__rate_interval", "5m")
        expr = re.sub(r"\$\{?(namespace|job)\}?", ".*", expr)
        m = re.fullmatch(r"label_values\((.*), *(\w+)\)", expr)
        if m:  # Grafana's label_values(SELECTOR, LABEL): the selector must parse.
            expr = m.group(1)
        assert "$" not in expr, f"unknown Grafana variable in {expr}"
        return expr

    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": promql(e)} for i, (_, e) in enumerate(exprs)
    ]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(rules, f)
        f.flush()
        done = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"promtool cannot parse a dashboard query:\n{done.stdout}{done.stderr}")
    print(f"{len(exprs)} queries parse")


def objects(path, chart):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    with open(f"{chart}/dashboards/cairn.json") as f:
        board = f.read()
    with open(f"{chart}/rules/cairn.rules.yaml") as f:
        rules = yaml.safe_load(f)
    maps = [d for d in docs if d["kind"] == "ConfigMap"
            and d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    assert len(maps) == 1, f"{len(maps)} dashboard ConfigMaps"
    (data,) = maps[0]["data"].values()
    assert data.rstrip("\n") == board.rstrip("\n"), "the dashboard differs from the chart's"
    json.loads(data)
    prs = [d for d in docs if d["kind"] == "PrometheusRule"]
    assert len(prs) == 1, f"{len(prs)} PrometheusRules"
    assert prs[0]["apiVersion"] == "monitoring.coreos.com/v1"
    assert prs[0]["spec"] == rules, "the PrometheusRule's groups differ from the chart's rules file"
    print("dashboard ConfigMap and PrometheusRule match the chart's files")


def config_env(text):
    values = {}
    for line in text.splitlines():
        m = re.match(r'\s*(?:export\s+)?(\w+)=(?:"([^"]*)"|\'([^\']*)\'|(\S*))', line)
        if m:
            values[m.group(1)] = next(g for g in m.groups()[1:] if g is not None)
    return values


def token(path, *inputs):
    import base64

    import jwt  # PyJWT

    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    given = []
    for name in inputs:
        with open(name) as f:
            given += [d for d in yaml.safe_load_all(f) if d]
    secrets = {d["metadata"]["name"]: d for d in given if d["kind"] == "Secret"}
    configs = {d["metadata"]["name"]: d["spec"]["configuration"]["name"]
               for d in given if d["kind"] == "Tenant"}
    monitors = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceMonitor"}
    tokens = [d for d in docs if d["kind"] == "Secret"
              and d["metadata"]["name"].endswith("-prometheus-token")]
    assert tokens, "no token Secret rendered"
    for secret in tokens:
        tenant = secret["metadata"]["name"].removesuffix("-prometheus-token")
        endpoint = monitors[tenant]["spec"]["endpoints"][0]
        assert endpoint["bearerTokenSecret"] == {"name": secret["metadata"]["name"], "key": "token"}
        value = base64.b64decode(secret["data"]["token"]).decode()
        config = secrets[configs[tenant]]
        text = config.get("stringData", {}).get("config.env")
        if text is None:
            text = base64.b64decode(config["data"]["config.env"]).decode()
        env = config_env(text)
        # The server's precedence: CAIRN_* before MINIO_*.
        user = env.get("CAIRN_ROOT_USER") or env["MINIO_ROOT_USER"]
        password = env.get("CAIRN_ROOT_PASSWORD") or env["MINIO_ROOT_PASSWORD"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyJWT warns about keys under 64 bytes.
            header = jwt.get_unverified_header(value)
            claims = jwt.decode(value, password, algorithms=["HS512"],
                                issuer="prometheus", options={"require": ["exp", "iss", "sub"]})
            try:
                jwt.decode(value, password + "x", algorithms=["HS512"])
                sys.exit("the token also verifies under another key")
            except jwt.InvalidSignatureError:
                pass
        assert header == {"alg": "HS512", "typ": "JWT"}, header
        assert claims["sub"] == user, claims
        years = (claims["exp"] - time.time()) / (365 * 86400)
        assert 99.9 < years <= 100, f"expires in {years} years"
        print(f"{tenant}: token verified by PyJWT {jwt.__version__}, sub {claims['sub']}")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"dashboard": dashboard, "objects": objects, "token": token}[command](*args)
