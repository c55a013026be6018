#!/usr/bin/env python3
"""crd2jsonschema - JSON schemas for kubeconform from CustomResourceDefinitions.

Usage: crd2jsonschema.py OUTDIR CRD.yaml...

For every version of every CRD writes OUTDIR/<group>/<kind>_<version>.json
(lower case; kubeconform's -schema-location
'OUTDIR/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'),
the version's openAPIV3Schema made strict the way kubeconform's own
openapi2jsonschema does it: objects with properties and without
x-kubernetes-preserve-unknown-fields or additionalProperties refuse unknown
keys, x-kubernetes-int-or-string becomes string-or-integer, nullable adds
null. apiVersion and kind are pinned to the CRD's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def strict(node):
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if ("properties" in out and "additionalProperties" not in out and not preserve):
        out["additionalProperties"] = False
    for k in [k for k in out if k.startswith("x-kubernetes-")]:
        del out[k]
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = Path(argv[1])
    n = 0
    for path in argv[2:]:
        for doc in yaml.safe_load_all(Path(path).read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group = doc["spec"]["group"]
            kind = doc["spec"]["names"]["kind"]
            for v in doc["spec"]["versions"]:
                schema = strict(v["schema"]["openAPIV3Schema"])
                props = schema.setdefault("properties", {})
                props["apiVersion"] = {"type": "string", "enum": [f"{group}/{v['name']}"]}
                props["kind"] = {"type": "string", "enum": [kind]}
                schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind"})
                schema["$schema"] = "http://json-schema.org/draft-07/schema#"
                dst = outdir / group.lower() / f"{kind.lower()}_{v['name'].lower()}.json"
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_text(json.dumps(schema, indent=1))
                n += 1
    if n == 0:
        print("crd2jsonschema: no CustomResourceDefinition found", file=sys.stderr)
        return 1
    print(f"crd2jsonschema: {n} schemas in {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
