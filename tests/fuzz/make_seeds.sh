#!/usr/bin/env bash
# Builds the fuzz seed corpora from the real fixtures, into OUT_DIR/<harness>/
# (a build directory; nothing large goes into the repository):
#
#   phrase_compiler_fuzz      every phrases/unless string of phrase_lists/**/*.textproto
#   phrase_list_loader_fuzz   every phrase_lists/**/*.textproto, whole
#   engine_fuzz               a few fixed pseudo-random inputs (FuzzedDataProvider
#                             decodes any bytes; its texts come from the packs)
#   transcript_reader_fuzz    tests/data/** and ../shared/corpora/** transcripts,
#                             each prefixed with its format byte, and once with
#                             the auto-detect byte
#   service_fuzz              StreamCall and ReviewCall inputs built from the
#                             recorded calls (service_seed_writer)
#
# The hand-written seeds in tests/fuzz/seeds/<harness>/ are added too.
#
# Usage: make_seeds.sh OUT_DIR [SERVICE_SEED_WRITER]
#   SERVICE_SEED_WRITER defaults to OUT_DIR/../service_seed_writer.
# Environment: COACHD_CORPORA (default: <repo>/../shared/corpora).
set -euo pipefail

out=${1:?usage: make_seeds.sh OUT_DIR [SERVICE_SEED_WRITER]}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
writer=${2:-$(dirname "$out")/service_seed_writer}
corpora=${COACHD_CORPORA:-$(cd "$repo/.." && pwd)/shared/corpora}

harnesses="phrase_compiler_fuzz phrase_list_loader_fuzz engine_fuzz transcript_reader_fuzz service_fuzz"
for h in $harnesses; do
  rm -rf "${out:?}/$h"
  mkdir -p "$out/$h"
  if [ -d "$here/seeds/$h" ]; then cp "$here/seeds/$h"/* "$out/$h/" 2>/dev/null || true; fi
done

# Phrase lists, whole.
n=0
while IFS= read -r -d '' f; do
  n=$((n + 1))
  cp "$f" "$out/phrase_list_loader_fuzz/pack_$n.textproto"
done < <(find "$repo/phrase_lists" -name '*.textproto' -print0 | sort -z)

# Phrases: the quoted values of phrases: and unless: lines, unescaped.
python3 - "$repo/phrase_lists" "$out/phrase_compiler_fuzz" <<'EOF'
import pathlib, re, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
line = re.compile(r'^\s*(phrases|unless)\s*:\s*"((?:[^"\\]|\\.)*)"\s*$')
seen = set()
for path in sorted(src.rglob('*.textproto')):
    for text in path.read_text(encoding='utf-8').splitlines():
        m = line.match(text)
        if not m:
            continue
        value = re.sub(r'\\(.)', r'\1', m.group(2))
        if value not in seen:
            seen.add(value)
            (dst / f'phrase_{len(seen)}').write_bytes(value.encode('utf-8'))
print(f'make_seeds: {len(seen)} phrases')
EOF

# Engine: fixed pseudo-random inputs of a few sizes.
python3 - "$out/engine_fuzz" <<'EOF'
import pathlib, random, sys
dst = pathlib.Path(sys.argv[1])
rng = random.Random(20240601)
for i, size in enumerate([16, 64, 256, 1024, 4096, 4096, 2048, 512]):
    (dst / f'random_{i}').write_bytes(bytes(rng.randrange(256) for _ in range(size)))
EOF

# Transcripts: format byte + content. 0 = auto, 1 jsonl, 2 vtt, 3 srt, 4 aws,
# 5 contact_lens, 6 harper_valley (transcript_reader_fuzz.cc).
transcripts=()
add_transcript() {  # file format_byte
  local f=$1 byte=$2 name
  name=$(basename "$f")
  printf "\\x$(printf %02x "$byte")" | cat - "$f" > "$out/transcript_reader_fuzz/${byte}_$name"
  printf '\x00' | cat - "$f" > "$out/transcript_reader_fuzz/0_$name"
  transcripts+=("$f")
}
for f in "$repo"/tests/data/calls/*.jsonl; do add_transcript "$f" 1; done
for f in "$repo"/tests/data/formats/*; do
  case $(basename "$f") in
    *.vtt) add_transcript "$f" 2 ;;
    *.srt) add_transcript "$f" 3 ;;
    aws_*) add_transcript "$f" 4 ;;
    contact_lens*) add_transcript "$f" 5 ;;
  esac
done
for f in "$repo"/tests/data/harper_valley/transcript/*.json; do add_transcript "$f" 6; done
if [ -d "$corpora/harper_valley/transcript" ]; then
  for f in "$corpora"/harper_valley/transcript/*.json; do add_transcript "$f" 6; done
fi

# Service: StreamCall / ReviewCall inputs from every recorded call.
if [ -x "$writer" ]; then
  "$writer" "$out/service_fuzz" "${transcripts[@]}"
else
  echo "make_seeds: $writer not built; service_fuzz starts from its hand-written seeds" >&2
fi

for h in $harnesses; do
  echo "make_seeds: $h: $(find "$out/$h" -type f | wc -l) seeds"
done
