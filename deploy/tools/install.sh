#!/usr/bin/env bash
# install.sh - the tools and schemas that check deploy/ offline, pinned.
#
# Usage: deploy/tools/install.sh [--force]      (scripts/deps.sh runs it)
#
# Into .local/deploy-tools/ (idempotent; about 3 minutes the first time,
# mostly compiling Helm; instant when the stamp matches):
#
#   bin/helm, bin/kubeconform   built with `go install` from the Go module
#                               proxy at the versions below
#   schemas/k8s/v<X.Y.0>-standalone-strict/*.json
#                               Kubernetes JSON schemas from the PyPI wheel
#                               kubernetes-validate (sha256-checked), made
#                               self-contained for kubeconform: the $id is
#                               dropped and $refs point to _definitions.json
#                               beside them
#   schemas/compose-spec.json   the compose specification's schema, from the
#                               compose-go module
#   schemas/crd/keda.sh/*.json  KEDA's own CRDs (ScaledObject,
#                               TriggerAuthentication) from the KEDA Go
#                               module, converted by crd2jsonschema.py
#
# Needs: go (>= 1.24), the venv of scripts/deps.sh (PyYAML, pip).
set -euo pipefail

HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.8.0
KEDA_VERSION=v2.20.2
# The compose specification's JSON schema (what `docker compose config`
# validates with), from the compose-go module.
COMPOSE_GO_VERSION=v2.16.2
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBERNETES_VALIDATE_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9
# The Kubernetes versions the manifests are checked against: the chart's
# minimum (CronJob timeZone is GA from 1.27) and a current one.
KUBE_VERSIONS="1.27.0 1.33.0"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEST="$ROOT/.local/deploy-tools"
PY="$ROOT/.local/venv/bin/python"
LOG="$DEST/install.log"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

die() {
	echo "deploy/tools/install.sh: $*" >&2
	exit 1
}

want="helm=$HELM_VERSION kubeconform=$KUBECONFORM_VERSION keda=$KEDA_VERSION"
want="$want compose-go=$COMPOSE_GO_VERSION kubernetes-validate=$KUBERNETES_VALIDATE_VERSION kube=$KUBE_VERSIONS"
want="$want $(sha256sum "$ROOT/deploy/tools/crd2jsonschema.py" | cut -c1-16)"
if [ "$FORCE" -eq 0 ] && [ -f "$DEST/stamp" ] && [ "$(cat "$DEST/stamp")" = "$want" ] &&
	[ -x "$DEST/bin/helm" ] && [ -x "$DEST/bin/kubeconform" ]; then
	exit 0
fi
# The machine's Go toolchain (Debian's golang-1.19 is too old for Helm).
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null || die "go is not on PATH (the Go toolchain builds helm and kubeconform)"
[ -x "$PY" ] || die "no venv in .local/venv: run scripts/deps.sh"
rm -rf "$DEST.new"
mkdir -p "$DEST.new/bin" "$DEST.new/schemas/k8s" "$DEST.new/schemas/crd"
echo "deploy/tools/install.sh: helm $HELM_VERSION, kubeconform $KUBECONFORM_VERSION, schemas (log: $LOG)"
mkdir -p "$DEST"
: >"$LOG"

# Static binaries from the module proxy; GOFLAGS cleared so a caller's
# -mod=vendor or the like cannot interfere.
for mod in "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" \
	"github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"; do
	GOBIN="$DEST.new/bin" CGO_ENABLED=0 GOFLAGS= go install "$mod" >>"$LOG" 2>&1 ||
		{ tail -n 20 "$LOG" >&2; die "go install $mod failed; see $LOG"; }
done

# Kubernetes schemas: the wheel is only unpacked, never installed.
wheel_dir="$DEST.new/wheel"
"$PY" -m pip download --disable-pip-version-check --no-deps -q -d "$wheel_dir" \
	"kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >>"$LOG" 2>&1 ||
	{ tail -n 20 "$LOG" >&2; die "pip download kubernetes-validate failed; see $LOG"; }
wheel=$(ls "$wheel_dir"/kubernetes_validate-*.whl)
echo "$KUBERNETES_VALIDATE_SHA256  $wheel" | sha256sum -c --quiet - ||
	die "kubernetes-validate wheel: sha256 mismatch"
"$PY" - "$wheel" "$DEST.new/schemas/k8s" $KUBE_VERSIONS <<'PYEOF' >>"$LOG" 2>&1 || die "unpacking the Kubernetes schemas failed; see $LOG"
import json, sys, zipfile
from pathlib import Path
wheel, out, versions = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
z = zipfile.ZipFile(wheel)
for v in versions:
    pre = f"kubernetes_validate/kubernetes-json-schema/v{v}-local-strict/"
    dst = out / f"v{v}-standalone-strict"
    dst.mkdir(parents=True)
    n = 0
    for name in z.namelist():
        if name.startswith(pre) and name.endswith(".json"):
            text = z.read(name).decode().replace('"/api/_definitions.json#', '"_definitions.json#')
            doc = json.loads(text)
            doc.pop("$id", None)  # else refs resolve against kubernetes.io
            (dst / name[len(pre):]).write_text(json.dumps(doc))
            n += 1
    assert n > 100, f"only {n} schemas for {v}"
    print(f"k8s {v}: {n} schemas")
PYEOF
rm -rf "$wheel_dir"

# KEDA CRDs from the module (source only, nothing is built).
keda_dir=$(GOFLAGS= go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" 2>>"$LOG" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') ||
	die "go mod download of KEDA $KEDA_VERSION failed; see $LOG"
"$PY" "$ROOT/deploy/tools/crd2jsonschema.py" "$DEST.new/schemas/crd" \
	"$keda_dir/config/crd/bases/keda.sh_scaledobjects.yaml" \
	"$keda_dir/config/crd/bases/keda.sh_triggerauthentications.yaml" >>"$LOG" 2>&1 ||
	die "converting the KEDA CRDs failed; see $LOG"

compose_dir=$(GOFLAGS= go mod download -json "github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION" 2>>"$LOG" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') ||
	die "go mod download of compose-go $COMPOSE_GO_VERSION failed; see $LOG"
cp "$compose_dir/schema/compose-spec.json" "$DEST.new/schemas/compose-spec.json"

"$DEST.new/bin/helm" version --short >>"$LOG" 2>&1 || die "the built helm does not run"
"$DEST.new/bin/kubeconform" -v >>"$LOG" 2>&1 || die "the built kubeconform does not run"
echo "$want" >"$DEST.new/stamp"
mv "$LOG" "$DEST.new/install.log"
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
