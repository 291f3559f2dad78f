"""Checks custom resources against their CRD's openAPIV3Schema, strictly.

kubernetes-validate only warns about custom resources (it has no schema for them), so this
loads the CRD from crds/ and validates every object of its kind in the given files with
jsonschema. Strict means what `kubectl apply --validate=strict` means: a field the schema
does not declare is an error, where the API server would silently prune it. CEL rules are
not evaluated here; the Rust tests (operator/tests/crd.rs) evaluate them.

Usage: python validate_cr.py CRD.yaml FILE.yaml...   (exit 1 on any error)
"""

import copy
import sys

import jsonschema
import yaml


def strict(schema):
    """The CRD schema as plain JSON Schema, refusing undeclared fields."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if not isinstance(node, dict):
            return
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
        if node.pop("x-kubernetes-int-or-string", False):
            node.pop("type", None)
            node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        for key in [k for k in node if k.startswith("x-kubernetes-")]:
            if key == "x-kubernetes-preserve-unknown-fields":
                node["additionalProperties"] = True
            del node[key]
        if node.get("type") in ("object", ["object", "null"]) and "properties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            if isinstance(value, dict):
                walk(value)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

    walk(schema)
    # The API server owns these at the root.
    for field in ("apiVersion", "kind"):
        schema["properties"][field] = {"type": "string"}
    schema["properties"]["metadata"] = {"type": "object"}
    return schema


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        crd = yaml.safe_load(f)
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    schemas = {
        f"{group}/{v['name']}": strict(v["schema"]["openAPIV3Schema"])
        for v in crd["spec"]["versions"]
    }
    checked = failed = 0
    for path in argv[2:]:
        with open(path) as f:
            documents = list(yaml.safe_load_all(f))
        for doc in documents:
            if not isinstance(doc, dict) or doc.get("kind") != kind:
                continue
            name = f"{kind} {doc.get('metadata', {}).get('name')} in {path}"
            schema = schemas.get(doc.get("apiVersion"))
            checked += 1
            if schema is None:
                print(f"ERROR {name}: apiVersion {doc.get('apiVersion')} is not served by the CRD")
                failed += 1
                continue
            errors = sorted(
                jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path)
            )
            for e in errors:
                where = ".".join(str(p) for p in e.path) or "(root)"
                print(f"ERROR {name}: {where}: {e.message}")
            if errors:
                failed += 1
            else:
                print(f"INFO {name} passed against {argv[1]}")
    if checked == 0:
        print(f"ERROR no {kind} found in {' '.join(argv[2:])}")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
