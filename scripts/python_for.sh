#!/usr/bin/env bash
# Print the path of a Python X.Y interpreter that works on this machine, or fail saying how
# to get one: pyenv's versions first (these machines ship 3.11, 3.12 and 3.13 there), then
# pythonX.Y on PATH (Debian's, a deadsnakes build, a container's). Never installs anything.
#
#   bash scripts/python_for.sh 3.13   ->  /root/.pyenv/versions/3.13.0/bin/python3.13
set -euo pipefail
want=${1:?usage: python_for.sh X.Y}
works() { [ -x "$1" ] && [ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]; }

root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for candidate in $(ls -d "$root"/versions/"$want".* 2>/dev/null | sort -V -r); do
  if works "$candidate/bin/python$want"; then echo "$candidate/bin/python$want"; exit 0; fi
done
for candidate in $(type -ap "python$want" 2>/dev/null); do
  if works "$candidate"; then echo "$candidate"; exit 0; fi
done
echo "python_for.sh: no working Python $want on this machine (looked in $root/versions/$want.* and for python$want" \
     "on PATH). Install it (pyenv install $want, or apt-get install python$want) and run again." >&2
exit 1
