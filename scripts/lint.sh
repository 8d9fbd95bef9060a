#!/usr/bin/env bash
# Warren's lint: clang-format (.clang-format), clang-tidy 14 (.clang-tidy, on the translation
# units of build/dev/compile_commands.json under framework/, services/ and bench/) and the
# capturing-lambda-coroutine rule. Fails on findings that scripts/lint-baseline.txt does not
# accept. ctest runs it as lint.format and lint.tidy (label lint) in the dev preset.
#
#   scripts/lint.sh                     every check (build/dev must be configured and built)
#   scripts/lint.sh --format --coro     the fast checks only (no build needed)
#   scripts/lint.sh --tidy [-j N]       clang-tidy only
#   scripts/lint.sh --fix [PATHS]       reformat with clang-format (default: every tracked C++
#                                       file) and drop those files' clang-format baseline entries
#   scripts/lint.sh --findings FILE     also write every finding, per file and check, to FILE
#   scripts/lint.sh --update-baseline   accept the current findings (after fixing what you can)
set -euo pipefail
exec python3 "$(dirname "$0")/lint.py" "$@"
