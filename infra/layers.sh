#!/usr/bin/env bash
# The floor plan's rules (README "Layout"), checked by grep. Layers, lowest first:
#   asl < engine < store, tasks < runtime < api < console < lambda, main
# A layer may import only layers below it. Also: the engine is pure (no tokio, no wall clock,
# no OS randomness), api/lambda/main never name the engine's Frame or Phase, and no file in
# src/ is over 1,000 lines.
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0
fail() {
  echo "layers: $*" >&2
  failed=1
}

# forbid <what> <pattern> <paths...>: no line of the paths matches the extended regex.
forbid() {
  local what="$1" pattern="$2"
  shift 2
  local hits
  hits="$(grep -rnE "$pattern" "$@" --include='*.rs' || true)"
  if [[ -n "$hits" ]]; then
    fail "$what"
    echo "$hits" | sed 's/^/    /' >&2
  fi
}

forbid "asl imports nothing else of the crate" \
  'crate::(engine|store|tasks|runtime|api|lambda)\b' src/asl
forbid "scheduler (schedule expressions) imports nothing else of the crate" \
  'crate::(asl|engine|store|tasks|runtime|api|console|lambda)\b' src/scheduler
forbid "scheduler is pure: no tokio, no wall clock" \
  '\btokio\b|Utc::now|SystemTime::now|Instant::now' src/scheduler
forbid "engine imports only asl" \
  'crate::(store|tasks|runtime|api|lambda)\b' src/engine
forbid "engine is sync and deterministic: no tokio, wall clock or OS randomness" \
  '\btokio\b|Utc::now|SystemTime::now|Instant::now|rand::rng\(|thread_rng|OsRng|Uuid::new_v4|getrandom' src/engine
forbid "store imports engine data and asl only, never tasks/runtime/api" \
  'crate::(tasks|runtime|api|lambda)\b' src/store
forbid "tasks import engine::task and asl only, never store/runtime/api" \
  'crate::(store|runtime|api|lambda)\b' src/tasks
forbid "runtime never imports api/lambda" \
  'crate::(api|lambda)\b' src/runtime
forbid "api never imports lambda or console" 'crate::(lambda|console)\b' src/api
forbid "runtime, store, tasks, engine and asl never import console" \
  'crate::console\b' src/runtime src/store src/tasks src/engine src/asl
forbid "console never names the engine's Frame or Phase" '\b(Frame|Phase)\b' src/console
forbid "api, lambda and main never name the engine's Frame or Phase" \
  '\b(Frame|Phase)\b' src/api src/lambda.rs src/bin

while IFS= read -r file; do
  lines=$(wc -l <"$file")
  if ((lines > 1000)); then
    fail "$file has $lines lines (limit 1000): split it into files of one idea each"
  fi
done < <(find src -name '*.rs' | sort)

if ((failed)); then
  exit 1
fi
echo "layers: ok"
