# Sourced by the perf scripts. install_package <package>: installs a Debian package quietly; a fresh
# machine may have no package lists yet, so they are updated only when the first attempt fails.
install_package() {
  apt-get install -y -qq "$1" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq "$1" >/dev/null; }
}
