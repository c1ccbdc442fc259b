#!/usr/bin/env bash
# A walk through watchkeeper's Lamia-compatible API (/api/v0) with curl: what an HTCondor or
# Slurm job that reported to a Lamia server sends, unchanged.
#
#   examples/lamia.sh [BASE_URL]        # or WATCHKEEPER_URL=...; default http://127.0.0.1:7070
#
# With tokens configured on the server, set WATCHKEEPER_TOKEN to an admin token. Every call
# prints its status and answer; the script stops at the first unexpected status.
set -euo pipefail

BASE=${1:-${WATCHKEEPER_URL:-http://127.0.0.1:7070}}
BASE=${BASE%/}
TASK=${LAMIA_TASK:-testing-$(printf '%x' "$(date +%s)")}
URL="$BASE/api/v0/$TASK"
HOST=$(hostname 2>/dev/null || echo localhost)
AUTH=()
if [ -n "${WATCHKEEPER_TOKEN:-}" ]; then
  AUTH=(-H "Authorization: Bearer $WATCHKEEPER_TOKEN")
fi
ANSWER=$(mktemp)
trap 'rm -f "$ANSWER"' EXIT

# call TITLE EXPECTED_STATUS METHOD URL [JSON_BODY]
call() {
  local title=$1 expected=$2 method=$3 url=$4 body=${5:-}
  local args=(-sS -X "$method" -H 'Content-Type: application/json' -o "$ANSWER" -w '%{http_code}')
  if [ -n "$body" ]; then args+=(--data "$body"); fi
  echo "== $title"
  echo "$method $url"
  local status
  status=$(curl "${args[@]}" ${AUTH[@]+"${AUTH[@]}"} "$url")
  echo "HTTP $status"
  cat "$ANSWER"
  echo
  if [ "$status" != "$expected" ]; then
    echo "unexpected status $status (expected $expected) for $method $url" >&2
    exit 1
  fi
}

# event PROCESS CLASS [ARRAY_INDEX] [EXTRA_JSON_FIELDS]: a job reporting its state.
event() {
  local proc=$1 class=$2 index=${3:-} extra=${4:-}
  local url="$URL/$proc/event"
  if [ -n "$index" ]; then url="$url?arrayIndex=$index"; fi
  call "$proc${index:+[$index]} $class" 201 POST "$url" \
    "{\"eventClass\": \"$class\"${extra:+, $extra}, \"_meta\": {\"host\": \"$HOST\", \"time\": \"$(date +%s)\"}}"
}

echo "Task: $TASK at $BASE"

call "create a task: two arrays and a solitary job" 201 POST "$URL" "$(cat <<JSON
{
  "_meta": {"host": "$HOST", "time": $(date +%s)},
  "tags": ["testing", "one", "two"],
  "username": "${USER:-lamia}",
  "comment": "curl walk-through",
  "config": "some cfg here",
  "processes": {
    "tstArray1": 10,
    "tstArray2": [10, 8],
    "someJob1": null
  }
}
JSON
)"
call "the same name again is a conflict" 409 POST "$URL" '{"processes": {"x": null}}'
call "a task needs processes" 400 POST "$BASE/api/v0/$TASK-empty" '{"processes": {}}'
call "unknown fields are refused" 400 POST "$BASE/api/v0/$TASK-odd" '{"processes": {"a": 2}, "colour": "red"}'

call "the task" 200 GET "$URL"
call "tasks tagged 'three' (none)" 200 GET "$BASE/api/v0?tags=three"
call "tasks tagged 'testing' and 'two', names and tags only" 200 GET \
  "$BASE/api/v0?tag=testing&tag=two&fields=name,tags&order=submittedAt&sort=desc&limit=5"
call "one array" 200 GET "$URL/tstArray2"

event tstArray2 SUBMITTED 3
event tstArray2 STARTED 3 '"payload": "arbitrary data here"'
event tstArray2 BEAT 3
event someJob1 STARTED
event someJob1 BEAT
event someJob1 DONE

echo "-- tstArray1 has no threshold: its jobs report percentages, the array's progress is their mean"
event tstArray1 STARTED 0
event tstArray1 PROGRESS 0 '"progress": 40'
event tstArray1 PROGRESS 1 '"payload": {"histogram": "h1"}, "progress": 90'
event tstArray1 FAILED 2 '"payload": "segfault"'

echo "-- tstArray2 needs 8 jobs DONE out of 10: the 8th answer says \"enough\": true"
for i in 0 1 2 3 4 5 6 7; do
  event tstArray2 DONE "$i"
done

call "index out of range" 400 POST "$URL/tstArray2/event?arrayIndex=11" '{"eventClass": "BEAT"}'
call "a solitary job takes no index" 400 POST "$URL/someJob1/event?arrayIndex=1" '{"eventClass": "BEAT"}'
call "an array job needs its index" 400 POST "$URL/tstArray1/event" '{"eventClass": "BEAT"}'
call "an unknown process" 404 POST "$URL/nothing/event" '{"eventClass": "BEAT"}'

call "processes of this task with a DONE job" 200 GET "$URL/@all?hasEventsOfClass=DONE"
call "events of tstArray2[3]" 200 GET "$URL/tstArray2/event?arrayIndex=3"
call "the last two DONE events of tstArray2, newest first" 200 GET \
  "$URL/tstArray2/event?eventClass=DONE&order=id&sort=desc&limit=2&fields=id,procNumInArray,eventClass"
ID=$(sed -n 's/.*"entries":\[{"id":\([0-9]*\).*/\1/p' "$ANSWER")
call "one event by id" 200 GET "$URL/tstArray2/event/$ID"

call "the same jobs as watchkeeper tasks" 200 GET "$BASE/api/v1/tasks?producer=$TASK&sort=id"
call "the task as a watchkeeper group" 200 GET "$BASE/api/v1/groups/$TASK"

call "deleting every task is forbidden" 403 DELETE "$BASE/api/v0"
call "delete the task" 200 DELETE "$URL"
call "it is gone" 404 GET "$URL"
echo "done"
