#!/usr/bin/env bash
# The README's two commands:  quickstart.sh demo  |  quickstart.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
case "${1:-}" in
  demo) exec ./bin/ipmp lab demo ;;
  test) exec npm test --silent ;;
  *) echo "usage: scripts/quickstart.sh demo|test" >&2; exit 2 ;;
esac
