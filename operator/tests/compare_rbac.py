"""Checks that the operator's RBAC rules agree everywhere they are written.

The same rules on the objects of Tenants exist as the chart's ClusterRole or Roles
(charts/cairn-operator/templates/_helpers.tpl), the kustomize base's ClusterRole
(manifests/operator/rbac.yaml) and the namespaced overlay's Role
(manifests/operator-namespaced/role.yaml). A rule added to one and forgotten in another
would make one install fail at run time with 403s, so validate.sh renders them all and
this compares them.

Usage: python compare_rbac.py FILE:KIND:NAME [FILE:KIND:NAME ...]
Each FILE is a multi-document YAML file; every object of that KIND and NAME in it (a Role
per watched namespace) must have the same rules, the cluster-scoped StorageClass rule set
aside. Also checks that no rule grants "*" or reaches Secrets with delete.
Exit status 0 when they agree.
"""

import sys

import yaml


def rules_of(obj):
    """The rules as a comparable set of (group, resource, verb), StorageClasses aside."""
    out = set()
    for rule in obj.get("rules") or []:
        for group in rule.get("apiGroups", []):
            if group == "storage.k8s.io":
                continue
            for resource in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    out.add((group, resource, verb))
    return out


def main(specs):
    seen = {}
    problems = []
    for spec in specs:
        path, kind, name = spec.split(":")
        with open(path, encoding="utf-8") as f:
            objects = [o for o in yaml.safe_load_all(f) if o]
        matches = [o for o in objects if o.get("kind") == kind and o["metadata"]["name"] == name]
        if not matches:
            problems.append(f"{spec}: no {kind} {name}")
        for obj in matches:
            where = f"{spec} (namespace {obj['metadata'].get('namespace', '-')})"
            rules = rules_of(obj)
            for group, resource, verb in rules:
                if "*" in (group, resource, verb):
                    problems.append(f"{where}: wildcard rule {group}/{resource}/{verb}")
                if resource == "secrets" and verb in ("delete", "deletecollection"):
                    problems.append(f"{where}: may delete Secrets")
            seen[where] = rules
    if seen:
        first, reference = next(iter(seen.items()))
        for where, rules in seen.items():
            if rules != reference:
                problems.append(
                    f"{where} differs from {first}: only here {sorted(rules - reference)}, "
                    f"missing {sorted(reference - rules)}"
                )
    for p in problems:
        print(p)
    print(f"compared the rules of {len(seen)} objects")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
