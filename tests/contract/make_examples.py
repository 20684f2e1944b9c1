#!/usr/bin/env python3
"""Writes tests/examples/*.json and tests/contract/examples_manifest.json.

Run it after changing an example; review and commit both outputs.
"""
import copy
import json
import os

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
W = "7e9b0e6c4c9a4e59b7f2d9a3c1b2e4d5"
frame = {"type": "backbeat.beatframe.v1", "cluster_id": "chorus-prod",
         "beat_index": 1337, "downbeat": False, "phase": "execute",
         "hlc": "7ffd:0001:abcd", "deadline_at": "2025-09-05T12:30:00Z",
         "tempo_bpm": 2.0, "window_id": W}
claim = {"type": "backbeat.statusclaim.v1", "agent_id": "search-indexer:worker-03",
         "task_id": "index-batch:20250905-120", "beat_index": 1337,
         "state": "executing", "beats_left": 3, "progress": 0.65,
         "notes": "processing batch 120/200", "hlc": "7ffd:0001:beef"}
report = {"type": "backbeat.barreport.v1", "window_id": W, "from_beat": 240,
          "to_beat": 359, "agents_reporting": 978, "on_time_reviews": 942,
          "help_promises_fulfilled": 87, "secret_rotations_ok": True,
          "tempo_drift_ms": 7.3, "issues": []}
issue = {"kind": "agents_failed", "severity": "critical", "count": 2,
         "detail": "2 agents reported failed", "agents": ["a-1", "a-2"]}

def d(**kw):
    return kw

def with_(base, **changes):
    m = copy.deepcopy(base)
    for k, v in changes.items():
        m[k] = v
    return m

def without(base, key):
    m = copy.deepcopy(base)
    del m[key]
    return m

def text(m):
    return json.dumps(m, ensure_ascii=False)

manifest = []
def emit(fname, entries):
    parts = []
    for i, e in enumerate(entries):
        raw = e["raw"] if "raw" in e else text(e["msg"])
        parts.append("  " + raw)
        rec = {"file": fname, "index": i, "valid": e.get("valid", False),
               "type": e.get("type"), "rule": e["rule"]}
        if not rec["valid"]:
            rec["reason"] = e.get("reason", "schema")
            rec["error"] = e["error"]
        for k in ("rapidjson", "draft7"):
            rec[k] = e.get(k, "agrees")
        if "note" in e:
            rec["note"] = e["note"]
        manifest.append(rec)
    open(fname, "w").write("[\n" + ",\n".join(parts) + "\n]\n")

def ok(msg, rule, type_):
    return {"msg": msg, "valid": True, "rule": rule, "type": type_}
def bad(msg, rule, error, **kw):
    e = {"msg": msg, "rule": rule, "error": error}
    e.update(kw)
    return e

# ---- BeatFrame
bf = "beatframe"
valid = [
    ok(frame, "seed example", bf),
    ok(with_(frame, downbeat=True, phase="plan", beat_index=0), "downbeat at beat 0", bf),
    ok(with_(frame, phase="review", tempo_bpm=0.1, deadline_at="2024-02-29T23:59:60.123+05:30"), "lowest tempo, leap day and leap second with offset", bf),
    ok(with_(frame, tempo_bpm=6000, cluster_id="A" * 64, hlc="FFFF:0000:aBcD"), "highest tempo, longest cluster id", bf),
    ok(with_(frame, x_future_field={"nested": [1, 2]}, deadline_at="2025-09-05t12:30:00z"), "extra field tolerated, lower-case T and Z", bf),
    ok(with_(frame, tempo_bpm=120), "integer tempo", bf),
]
emit("beatframe-valid.json", valid)
inv = []
for k in frame:
    inv.append(bad(without(frame, k), "required " + k, k + " field is required", type=None if k == "type" else bf))
inv += [
    bad(with_(frame, type="backbeat.beatframe.v2"), "type enum", "type must be one of: backbeat.beatframe.v1, backbeat.statusclaim.v1, backbeat.barreport.v1"),
    bad(with_(frame, cluster_id=""), "cluster_id pattern (empty)", "cluster_id must be 1-64 characters of A-Z, a-z, 0-9, _ or -"),
    bad(with_(frame, cluster_id="A" * 65), "cluster_id pattern (too long)", "cluster_id must be 1-64 characters of A-Z, a-z, 0-9, _ or -"),
    bad(with_(frame, cluster_id="chorus.prod"), "cluster_id pattern (dot)", "cluster_id must be 1-64 characters of A-Z, a-z, 0-9, _ or -"),
    bad(with_(frame, cluster_id=7), "cluster_id type", "cluster_id must be a string"),
    bad(with_(frame, beat_index=-1), "beat_index minimum", "beat_index must be at least 0"),
    bad(with_(frame, beat_index=1.5), "beat_index type (fraction)", "beat_index must be an integer"),
    bad(with_(frame, beat_index="1337"), "beat_index type (string)", "beat_index must be an integer"),
    bad(with_(frame, beat_index=1337.0), "beat_index type (1337.0)", "beat_index must be an integer", draft7="accepts", note="draft-07 counts 1337.0 as an integer; the contract wants an integer literal"),
    bad(with_(frame, downbeat="true"), "downbeat type", "downbeat must be a boolean"),
    bad(with_(frame, phase="Plan"), "phase enum (case)", "phase must be one of: plan, execute, review"),
    bad(with_(frame, phase="done"), "phase enum", "phase must be one of: plan, execute, review"),
    bad(with_(frame, hlc="7ffd:0001"), "hlc pattern (short)", "hlc must match pattern XXXX:XXXX:XXXX"),
    bad(with_(frame, hlc="7ffd:0001:abcg"), "hlc pattern (non-hex)", "hlc must match pattern XXXX:XXXX:XXXX"),
    bad(with_(frame, hlc="7ffd:0001:abcd\u0000"), "hlc pattern (NUL byte)", "hlc must match pattern XXXX:XXXX:XXXX", rapidjson="accepts", note="RapidJSON's regex stops at the NUL byte"),
    bad(with_(frame, hlc="7ffd:0001:abcd\n"), "hlc pattern (trailing newline)", "hlc must match pattern XXXX:XXXX:XXXX", draft7="accepts", note="Python's $ also matches before a final newline"),
    bad(with_(frame, deadline_at="tomorrow"), "deadline_at date-time", "deadline_at must be an RFC 3339 date-time such as 2025-09-05T12:30:00Z", rapidjson="accepts", note="RapidJSON ignores format"),
    bad(with_(frame, deadline_at="2025-02-29T12:30:00Z"), "deadline_at date-time (no such day)", "deadline_at must be an RFC 3339 date-time such as 2025-09-05T12:30:00Z", rapidjson="accepts", note="RapidJSON ignores format"),
    bad(with_(frame, deadline_at="2025-09-05 12:30:00Z"), "deadline_at date-time (space)", "deadline_at must be an RFC 3339 date-time such as 2025-09-05T12:30:00Z", rapidjson="accepts", note="RapidJSON ignores format"),
    bad(with_(frame, deadline_at="2025-09-05T12:30:00"), "deadline_at date-time (no offset)", "deadline_at must be an RFC 3339 date-time such as 2025-09-05T12:30:00Z", rapidjson="accepts", note="RapidJSON ignores format"),
    bad(with_(frame, tempo_bpm=0.05), "tempo_bpm minimum", "tempo_bpm must be at least 0.1"),
    bad(with_(frame, tempo_bpm=0), "tempo_bpm minimum (zero)", "tempo_bpm must be at least 0.1"),
    bad(with_(frame, tempo_bpm=6000.5), "tempo_bpm maximum", "tempo_bpm must be at most 6000"),
    bad(with_(frame, tempo_bpm="2.0"), "tempo_bpm type", "tempo_bpm must be a number"),
    {"raw": text(frame).replace('"tempo_bpm": 2.0', '"tempo_bpm": 1e400'), "rule": "tempo_bpm finite", "reason": "malformed", "error": "malformed JSON at byte 199: Number too big to be stored in double.", "note": "not finite: the contract rejects it while parsing; Python reads infinity, which is above the maximum"},
    bad(with_(frame, window_id=W[:31]), "window_id pattern (31)", "window_id must be exactly 32 hex characters"),
    bad(with_(frame, window_id=W + "0"), "window_id pattern (33)", "window_id must be exactly 32 hex characters"),
    bad(with_(frame, window_id="z" * 32), "window_id pattern (non-hex)", "window_id must be exactly 32 hex characters"),
    bad(with_(frame, window_id=None), "window_id type", "window_id must be a string"),
    {"raw": "42", "rule": "root not an object", "reason": "malformed", "error": "message must be a JSON object"},
]
emit("beatframe-invalid.json", inv)

# ---- StatusClaim
sc = "statusclaim"
minimal = {k: claim[k] for k in ("type", "agent_id", "beat_index", "state", "hlc")}
valid = [
    ok(claim, "seed example", sc),
    ok(minimal, "required fields only", sc),
    ok(with_(claim, agent_id="\u00e9" * 128, notes="\u00fc" * 256), "lengths count characters, not bytes", sc),
    ok(with_(claim, progress=0, beats_left=0, state="helping", notes=""), "lower bounds", sc),
    ok(with_(claim, progress=1, state="completed", extra={"a": [True, None]}), "upper progress and an extra field", sc),
    ok(with_(claim, notes="tab\tquote\" nul\u0000 inside notes"), "escapes and NUL inside a free-text field", sc),
]
for state in ["idle", "planning", "reviewing", "failed", "blocked"]:
    valid.append(ok(with_(minimal, state=state), "state " + state, sc))
emit("statusclaim-valid.json", valid)
inv = []
for k in minimal:
    inv.append(bad(without(claim, k), "required " + k, k + " field is required"))
inv += [
    bad(with_(claim, type="backbeat.statusclaim"), "type enum", "type must be one of: backbeat.beatframe.v1, backbeat.statusclaim.v1, backbeat.barreport.v1"),
    bad(with_(claim, agent_id=""), "agent_id minLength", "agent_id must be at least 1 character"),
    bad(with_(claim, agent_id="a" * 129), "agent_id maxLength", "agent_id must be at most 128 characters"),
    bad(with_(claim, agent_id=["a"]), "agent_id type", "agent_id must be a string"),
    bad(with_(claim, task_id=""), "task_id minLength", "task_id must be at least 1 character"),
    bad(with_(claim, task_id="t" * 129), "task_id maxLength", "task_id must be at most 128 characters"),
    bad(with_(claim, beat_index=-5), "beat_index minimum", "beat_index must be at least 0"),
    bad(with_(claim, state="running"), "state enum", "state must be one of: idle, planning, executing, reviewing, completed, failed, blocked, helping"),
    bad(with_(claim, beats_left=-1), "beats_left minimum", "beats_left must be at least 0"),
    bad(with_(claim, beats_left=2.5), "beats_left type", "beats_left must be an integer"),
    bad(with_(claim, progress=1.5), "progress maximum", "progress must be at most 1"),
    bad(with_(claim, progress=-0.1), "progress minimum", "progress must be at least 0"),
    bad(with_(claim, progress="65%"), "progress type", "progress must be a number"),
    bad(with_(claim, notes="n" * 257), "notes maxLength", "notes must be at most 256 characters"),
    bad(with_(claim, hlc="7ffd-0001-beef"), "hlc pattern", "hlc must match pattern XXXX:XXXX:XXXX"),
    bad(with_(claim, hlc=12), "hlc type", "hlc must be a string"),
    {"raw": text(claim).replace('"beat_index": 1337', '"beat_index": 9223372036854775808'), "rule": "integer beyond int64", "reason": "malformed", "error": "malformed JSON at byte 129: integer does not fit in 64 bits", "rapidjson": "accepts", "draft7": "accepts", "note": "both read it as a large integer"},
    {"raw": text(claim).replace('"state": "executing"', '"state": "executing", "state": "completed"'), "rule": "duplicate key", "reason": "malformed", "error": "malformed JSON: duplicate key \"state\"", "rapidjson": "accepts", "draft7": "accepts", "note": "both keep one of the two values"},
    {"raw": "[]", "rule": "root not an object (array)", "reason": "malformed", "error": "message must be a JSON object"},
    {"raw": "null", "rule": "root not an object (null)", "reason": "malformed", "error": "message must be a JSON object"},
]
emit("statusclaim-invalid.json", inv)

# ---- BarReport
br = "barreport"
kinds = ["agents_failed", "agents_blocked", "missed_reviews", "agents_silent",
         "late_claims", "invalid_claims", "missing_beats", "tempo_drift",
         "ingest_dropped", "ingest_interrupted"]
full = with_(report, issues=[with_(issue, kind=k, severity=["info", "warning", "critical"][i % 3], count=i) for i, k in enumerate(kinds)])
valid = [
    ok(report, "seed example", br),
    ok(full, "every known issue kind", br),
    ok(with_(report, issues=[with_(issue, kind="a" + "b" * 63, agents=["x" * 128] * 10, detail="d" * 512)]), "issue bounds and a future kind", br),
    ok(with_(report, issues=[with_(issue, agents=[], detail="")] * 32), "32 issues", br),
    ok(with_(report, from_beat=0, to_beat=0, agents_reporting=0, on_time_reviews=0, help_promises_fulfilled=0, secret_rotations_ok=False, tempo_drift_ms=-12.5), "zeros, equal beats, negative drift", br),
    ok(with_(report, on_time_reviews=978, tempo_drift_ms=0, extra_field="tolerated"), "on_time_reviews equal to agents_reporting", br),
]
emit("barreport-valid.json", valid)
inv = []
for k in report:
    inv.append(bad(without(report, k), "required " + k, k + " field is required"))
for k in issue:
    inv.append(bad(with_(report, issues=[without(issue, k)]), "required issues[].%s" % k, "issues[0].%s field is required" % k))
inv += [
    bad(with_(report, type="backbeat.barreport.v2"), "type enum", "type must be one of: backbeat.beatframe.v1, backbeat.statusclaim.v1, backbeat.barreport.v1"),
    bad(with_(report, window_id="7e9b0e6c"), "window_id pattern", "window_id must be exactly 32 hex characters"),
    bad(with_(report, from_beat=-1), "from_beat minimum", "from_beat must be at least 0"),
    bad(with_(report, to_beat=-1), "to_beat minimum", "to_beat must be at least 0"),
    bad(with_(report, to_beat=239), "to_beat >= from_beat", "to_beat must be at least from_beat", rapidjson="accepts", draft7="accepts", note="a rule between two fields, checked in code"),
    bad(with_(report, agents_reporting=-1), "agents_reporting minimum", "agents_reporting must be at least 0"),
    bad(with_(report, on_time_reviews=-1), "on_time_reviews minimum", "on_time_reviews must be at least 0"),
    bad(with_(report, on_time_reviews=979), "on_time_reviews <= agents_reporting", "on_time_reviews must be at most agents_reporting", rapidjson="accepts", draft7="accepts", note="a rule between two fields, checked in code"),
    bad(with_(report, help_promises_fulfilled=-3), "help_promises_fulfilled minimum", "help_promises_fulfilled must be at least 0"),
    bad(with_(report, help_promises_fulfilled="87"), "help_promises_fulfilled type", "help_promises_fulfilled must be an integer"),
    bad(with_(report, secret_rotations_ok="yes"), "secret_rotations_ok type", "secret_rotations_ok must be a boolean"),
    bad(with_(report, tempo_drift_ms="7.3"), "tempo_drift_ms type", "tempo_drift_ms must be a number"),
    bad(with_(report, issues={}), "issues type", "issues must be an array"),
    bad(with_(report, issues=[issue] * 33), "issues maxItems", "issues must have at most 32 items"),
    bad(with_(report, issues=["agents_failed"]), "issues items type", "issues[0] must be an object"),
    bad(with_(report, issues=[issue, with_(issue, kind="Agents_Failed")]), "issue kind pattern (case)", "issues[1].kind must be 1-64 characters of a-z, 0-9 or _, starting with a letter"),
    bad(with_(report, issues=[with_(issue, kind="a" * 65)]), "issue kind pattern (length)", "issues[0].kind must be 1-64 characters of a-z, 0-9 or _, starting with a letter"),
    bad(with_(report, issues=[with_(issue, kind="")]), "issue kind pattern (empty)", "issues[0].kind must be 1-64 characters of a-z, 0-9 or _, starting with a letter"),
    bad(with_(report, issues=[issue, issue, issue, with_(issue, severity="fatal")]), "issue severity enum", "issues[3].severity must be one of: info, warning, critical"),
    bad(with_(report, issues=[with_(issue, count=-1)]), "issue count minimum", "issues[0].count must be at least 0"),
    bad(with_(report, issues=[with_(issue, count=1.5)]), "issue count type", "issues[0].count must be an integer"),
    bad(with_(report, issues=[with_(issue, detail="d" * 513)]), "issue detail maxLength", "issues[0].detail must be at most 512 characters"),
    bad(with_(report, issues=[with_(issue, agents=["a"] * 11)]), "issue agents maxItems", "issues[0].agents must have at most 10 items"),
    bad(with_(report, issues=[with_(issue, agents=["a", ""])]), "issue agent minLength", "issues[0].agents[1] must be at least 1 character"),
    bad(with_(report, issues=[with_(issue, agents=["a" * 129])]), "issue agent maxLength", "issues[0].agents[0] must be at most 128 characters"),
    bad(with_(report, issues=[with_(issue, agents="a-1")]), "issue agents type", "issues[0].agents must be an array"),
]
emit("barreport-invalid.json", inv)
for m in manifest:
    if m["valid"]:
        m.pop("rapidjson"); m.pop("draft7")
json.dump({"description": "Expected verdict of every example. rapidjson and draft7 say whether RapidJSON's SchemaValidator and a draft-07 validator agree with the contract or accept a message the contract rejects (rules they cannot judge).", "examples": manifest}, open("../contract/examples_manifest.json", "w"), indent=1)
print(len(manifest))
