# The XML Schema validator the CI-output tests check JUnit files with: xmllint, from Debian's
# libxml2-utils, installed when missing. Owns installing it, not what the tests check.
# Expects steps.sh for `say` and services.sh for `apt_install`.

ensure_xmllint() {
  if ! command -v xmllint >/dev/null; then
    apt_install libxml2-utils
  fi
  say "$(xmllint --version 2>&1 | head -1): ready for the JUnit schema tests"
}
