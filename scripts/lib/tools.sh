# Tools the tests use beside the servers, from Debian's packages when missing: xmllint
# (libxml2-utils), which checks JUnit files against the JUnit schema, and nginx, which
# scripts/order-api.sh runs as the order API of workloads/order-management.toml, and
# openssl, with which the PostgreSQL TLS test makes its own CA and server certificate. Owns
# installing them, not what the tests check.
# Expects steps.sh for `say` and services.sh for `apt_install`.

ensure_tools() {
  local missing=()
  command -v xmllint >/dev/null || missing+=(libxml2-utils)
  [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
  command -v openssl >/dev/null || missing+=(openssl)
  if ((${#missing[@]} > 0)); then
    apt_install "${missing[@]}"
  fi
  say "$(xmllint --version 2>&1 | head -1), $(/usr/sbin/nginx -v 2>&1): ready for the tests"
}
