"""The baseline of benchmark P3: the anomalies job's hits, from one plain SQL statement written on its own.

`baseline_hits` reads the same rows the job scores (access events `wm` < id ≤ `hi`, account events
`account_wm` < id ≤ `account_hi`) and returns what the job would raise, one row per alert:
(rule, account, severity, window start, window end (milliseconds since the epoch), count, whether the
account is active (a high or critical hit suspends it)). It follows each rule's definition
(governance/rules/*.py, SECURITY.md), not the job's SQL:

- volume_burst (high): more than BURST_VIEWS record views (any outcome) within BURST_MINUTES ending at a
  new view, both ends included: a window count over the views of the accounts with that many since then;
- cadence (high): a new request whose 30-request window's gaps vary (population sd / mean) less than
  CADENCE_CV_PERCENT, or not at all; the window's figures are the ones the append keeps on each event
  (`pace_mean`, `pace_sd`: the job reads them too, and the test checks them against the chain);
- night_views (medium): more than NIGHT_VIEWS views in one night (NIGHT_START_HOUR to NIGHT_END_HOUR local,
  across midnight) holding a new view;
- many_ips (medium): IPS_PER_HOUR or more addresses within the 60 minutes ending at a new request, both
  ends included: the account's requests in time order cut into runs of one address; a window holds the
  addresses of the runs that overlap it in time (one that starts before it and ends after it holds the
  request it ends at); counted request by request for the runs that overlap enough addresses' runs
  within the hour before they start;
- out_of_scope (medium): OUT_OF_SCOPE_PER_DAY or more out-of-scope requests in a local day holding a new one;
- baseline_spike (medium): a local day with a new view and more views than BASELINE_FACTOR × the nearest-rank
  BASELINE_PERCENTILE of the views of the account's days with a view among the BASELINE_DAYS before it
  (at least BASELINE_MIN_DAYS of them);
- unexplained_views (medium) and _week (high): more than UNEXPLAINED_DAY_LIMIT allowed views and reveals of a
  record without an explanation row in a local day holding a new one, more than UNEXPLAINED_WEEK_LIMIT in
  that day and the six before;
- failed_logins (medium): FAILED_LOGINS or more failed passwords or codes within FAILED_LOGIN_MINUTES ending
  at a new one, both ends included;
- canary (critical): each new canary access without an alert naming it.

As the job does, the windows of one rule and account that overlap are merged (the peak count kept), and
a merged window that an alert of the same rule and account already overlaps is dropped. daily_budget is
raised by the read path, never by the job, so neither computes it. Nothing is written. It runs in one
transaction with the job's session settings for its statement (no JIT, the same work_mem), set the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from accounts.models import AccountEventType, Alert

SEVERITY = {
    "volume_burst": Alert.Severity.HIGH,
    "cadence": Alert.Severity.HIGH,
    "canary": Alert.Severity.CRITICAL,
    "baseline_spike": Alert.Severity.MEDIUM,
    "out_of_scope": Alert.Severity.MEDIUM,
    "unexplained_views": Alert.Severity.MEDIUM,
    "unexplained_views_week": Alert.Severity.HIGH,
    "night_views": Alert.Severity.MEDIUM,
    "many_ips": Alert.Severity.MEDIUM,
    "failed_logins": Alert.Severity.MEDIUM,
}
SUSPENDING = (Alert.Severity.HIGH, Alert.Severity.CRITICAL)
FAILED = [int(AccountEventType.LOGIN_FAILED), int(AccountEventType.OTP_FAILED)]

SQL = """
WITH fresh AS MATERIALIZED (
    SELECT id, actor_id, created_at FROM records_accessevent WHERE id > %(wm)s AND id <= %(hi)s
), first_new AS (
    SELECT MIN(created_at) AS at, (MIN(created_at) AT TIME ZONE %(tz)s)::date AS day FROM fresh
), ev AS MATERIALIZED (
    SELECT e.id, e.id > %(wm)s AS new, e.actor_id, e.created_at, e.created_at AT TIME ZONE %(tz)s AS local_at,
           e.action, e.outcome, e.beneficiary_id, e.ip_address, e.pace_mean, e.pace_sd
    FROM records_accessevent e
    WHERE e.actor_id IN (SELECT actor_id FROM fresh) AND e.id <= %(hi)s
      AND e.created_at >= (SELECT (day - %(baseline_days)s)::timestamp AT TIME ZONE %(tz)s FROM first_new)
),

busy AS (
    SELECT actor_id FROM ev WHERE action = 'view' AND created_at >= (SELECT at FROM first_new) - %(burst_span)s
    GROUP BY actor_id HAVING COUNT(*) > %(burst_views)s
), burst AS (
    SELECT 'volume_burst' AS rule, actor_id, created_at - %(burst_span)s AS w_from, created_at AS w_to, n AS count
    FROM (
        SELECT new, actor_id, created_at, COUNT(*) OVER (
            PARTITION BY actor_id ORDER BY created_at RANGE BETWEEN %(burst_span)s PRECEDING AND CURRENT ROW) AS n
        FROM ev WHERE action = 'view' AND actor_id IN (SELECT actor_id FROM busy)
          AND created_at >= (SELECT at FROM first_new) - %(burst_span)s
    ) counted WHERE new AND n > %(burst_views)s
),

cadence AS (
    SELECT 'cadence' AS rule, actor_id, created_at - make_interval(secs => %(gaps)s * pace_mean) AS w_from,
           created_at AS w_to, %(requests)s AS count
    FROM ev WHERE new AND pace_sd IS NOT NULL AND (pace_sd = 0 OR pace_sd < %(cv)s * abs(pace_mean))
),

night AS (
    SELECT 'night_views' AS rule, actor_id, starts AT TIME ZONE %(tz)s AS w_from,
           (starts + %(night_length)s) AT TIME ZONE %(tz)s - INTERVAL '1 millisecond' AS w_to, COUNT(*) AS count
    FROM (
        SELECT actor_id, new, local_at, date_trunc('day', local_at - %(night_start)s) + %(night_start)s AS starts
        FROM ev WHERE action = 'view' AND created_at >= (SELECT at FROM first_new) - %(night_length)s
    ) v
    WHERE local_at < starts + %(night_length)s
    GROUP BY actor_id, starts HAVING bool_or(new) AND COUNT(*) > %(night_views)s
),

addressed AS (
    SELECT id, new, actor_id, created_at, ip_address,
           SUM(starts_run) OVER (PARTITION BY actor_id ORDER BY created_at, id) AS run
    FROM (
        SELECT id, new, actor_id, created_at, ip_address,
               CASE WHEN ip_address = LAG(ip_address) OVER (PARTITION BY actor_id ORDER BY created_at, id)
                    THEN 0 ELSE 1 END AS starts_run
        FROM ev WHERE ip_address IS NOT NULL AND created_at >= (SELECT at FROM first_new) - %(ip_span)s
    ) a
), runs AS (
    SELECT actor_id, run, ip_address, MIN(created_at) AS run_from, MAX(created_at) AS run_to
    FROM addressed GROUP BY actor_id, run, ip_address
), crowded AS (
    SELECT r.actor_id, r.run FROM runs r
    JOIN runs p ON p.actor_id = r.actor_id AND p.run_from <= r.run_to AND p.run_to >= r.run_from - %(ip_span)s
    GROUP BY r.actor_id, r.run HAVING COUNT(DISTINCT p.ip_address) >= %(ips)s
), many_ips AS (
    SELECT 'many_ips' AS rule, a.actor_id, a.created_at - %(ip_span)s AS w_from, a.created_at AS w_to,
           COUNT(DISTINCT p.ip_address) AS count
    FROM crowded c JOIN addressed a ON a.actor_id = c.actor_id AND a.run = c.run AND a.new
    JOIN runs p ON p.actor_id = a.actor_id AND p.run_from <= a.created_at AND p.run_to >= a.created_at - %(ip_span)s
    GROUP BY a.id, a.actor_id, a.created_at HAVING COUNT(DISTINCT p.ip_address) >= %(ips)s
),

days AS (
    SELECT actor_id, local_at::date AS day,
           COUNT(*) FILTER (WHERE action = 'view') AS views,
           COUNT(*) FILTER (WHERE outcome = 'out_of_scope') AS refused,
           bool_or(new AND action = 'view') AS new_view,
           bool_or(new AND outcome = 'out_of_scope') AS new_refused
    FROM ev GROUP BY actor_id, local_at::date
), out_of_scope AS (
    SELECT 'out_of_scope' AS rule, actor_id, day::timestamp AT TIME ZONE %(tz)s AS w_from,
           (day + 1)::timestamp AT TIME ZONE %(tz)s - INTERVAL '1 millisecond' AS w_to, refused AS count
    FROM days WHERE new_refused AND refused >= %(oos)s
), spike AS (
    SELECT 'baseline_spike' AS rule, t.actor_id, t.day::timestamp AT TIME ZONE %(tz)s AS w_from,
           (t.day + 1)::timestamp AT TIME ZONE %(tz)s - INTERVAL '1 millisecond' AS w_to, t.views AS count
    FROM days t
    JOIN days h ON h.actor_id = t.actor_id AND h.day >= t.day - %(baseline_days)s AND h.day < t.day AND h.views > 0
    WHERE t.new_view AND t.views > %(factor)s
    GROUP BY t.actor_id, t.day, t.views
    HAVING COUNT(*) >= %(min_days)s
       AND t.views > %(factor)s * (array_agg(h.views ORDER BY h.views))[(%(percentile)s * COUNT(*) + 99) / 100]
),

unexplained AS (
    SELECT actor_id, local_at::date AS day, COUNT(*) AS n, bool_or(new) AS fresh
    FROM ev
    WHERE action IN ('view', 'reveal') AND outcome = 'allowed' AND beneficiary_id IS NOT NULL
      AND created_at >= (SELECT (day - 6)::timestamp AT TIME ZONE %(tz)s FROM first_new)
      AND NOT EXISTS (SELECT 1 FROM records_accessexplanation x WHERE x.event_id = ev.id)
    GROUP BY actor_id, local_at::date
), unexplained_day AS (
    SELECT 'unexplained_views' AS rule, actor_id, day::timestamp AT TIME ZONE %(tz)s AS w_from,
           (day + 1)::timestamp AT TIME ZONE %(tz)s - INTERVAL '1 millisecond' AS w_to, n AS count
    FROM unexplained WHERE fresh AND n > %(day_limit)s
), unexplained_week AS (
    SELECT 'unexplained_views_week' AS rule, d.actor_id, (d.day - 6)::timestamp AT TIME ZONE %(tz)s AS w_from,
           (d.day + 1)::timestamp AT TIME ZONE %(tz)s - INTERVAL '1 millisecond' AS w_to, SUM(w.n) AS count
    FROM unexplained d JOIN unexplained w ON w.actor_id = d.actor_id AND w.day BETWEEN d.day - 6 AND d.day
    WHERE d.fresh GROUP BY d.actor_id, d.day HAVING SUM(w.n) > %(week_limit)s
),

failing AS (
    SELECT subject_id, MIN(created_at) AS first_at FROM accounts_accountevent
    WHERE id > %(account_wm)s AND id <= %(account_hi)s AND type = ANY(%(failed)s) AND subject_id IS NOT NULL
    GROUP BY subject_id
), failed AS (
    SELECT 'failed_logins' AS rule, subject_id AS actor_id, created_at - %(fail_span)s AS w_from,
           created_at AS w_to, n AS count
    FROM (
        SELECT a.id, a.subject_id, a.created_at, COUNT(*) OVER (
            PARTITION BY a.subject_id ORDER BY a.created_at RANGE BETWEEN %(fail_span)s PRECEDING AND CURRENT ROW) AS n
        FROM accounts_accountevent a JOIN failing f ON f.subject_id = a.subject_id
        WHERE a.type = ANY(%(failed)s) AND a.id <= %(account_hi)s AND a.created_at >= f.first_at - %(fail_span)s
    ) counted WHERE id > %(account_wm)s AND n >= %(failures)s
),

found AS (
    SELECT rule, actor_id, round(extract(epoch FROM w_from) * 1000)::bigint AS f,
           round(extract(epoch FROM w_to) * 1000)::bigint AS t, count::bigint AS count
    FROM (
        SELECT * FROM burst UNION ALL SELECT * FROM cadence UNION ALL SELECT * FROM night
        UNION ALL SELECT * FROM many_ips UNION ALL SELECT * FROM out_of_scope UNION ALL SELECT * FROM spike
        UNION ALL SELECT * FROM unexplained_day UNION ALL SELECT * FROM unexplained_week
        UNION ALL SELECT * FROM failed
    ) windows
), islands AS (
    SELECT *, SUM(CASE WHEN f > reach THEN 1 ELSE 0 END) OVER (
        PARTITION BY rule, actor_id ORDER BY f, t ROWS UNBOUNDED PRECEDING) AS island
    FROM (
        SELECT *, MAX(t) OVER (
            PARTITION BY rule, actor_id ORDER BY f, t ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
        FROM found
    ) ordered
), merged AS (
    SELECT rule, actor_id, MIN(f) AS f, MAX(t) AS t, MAX(count) AS count FROM islands GROUP BY rule, actor_id, island
), unseen AS (
    SELECT m.* FROM merged m
    WHERE NOT EXISTS (
        SELECT 1 FROM accounts_alert a
        WHERE a.rule = m.rule AND a.subject_id = m.actor_id
          AND a.created_at >= LEAST(to_timestamp((SELECT MIN(f) FROM merged) / 1000.0) - INTERVAL '2 days',
                                    %(now)s - INTERVAL '3 days')
          AND a.evidence ->> 'window_start' ~ '^[0-9]{4}-' AND a.evidence ->> 'window_end' ~ '^[0-9]{4}-'
          AND round(extract(epoch FROM (a.evidence ->> 'window_start')::timestamptz) * 1000) <= m.t
          AND m.f <= round(extract(epoch FROM (a.evidence ->> 'window_end')::timestamptz) * 1000)
    )
), canary AS (
    SELECT 'canary' AS rule, e.actor_id, round(extract(epoch FROM e.created_at) * 1000)::bigint AS f,
           round(extract(epoch FROM e.created_at) * 1000)::bigint AS t, NULL::bigint AS count
    FROM records_accessevent e
    WHERE e.id > %(wm)s AND e.id <= %(hi)s AND e.outcome = 'canary'
      AND NOT EXISTS (
          SELECT 1 FROM accounts_alert a WHERE a.rule = 'canary' AND a.evidence -> 'access_event' = to_jsonb(e.id))
)
SELECT hit.rule, hit.actor_id, severity.level, hit.f, hit.t, hit.count,
       u.status = 'active' AND NOT u.is_system AS active
FROM (SELECT * FROM unseen UNION ALL SELECT * FROM canary) hit
JOIN (VALUES %(severities)s) AS severity(rule, level) ON severity.rule = hit.rule
JOIN accounts_user u ON u.id = hit.actor_id
ORDER BY 1, 2, 4, 5
"""


def _params(*, wm: int, hi: int, account_wm: int, account_hi: int, now: datetime) -> dict:
    from django.conf import settings as s

    return {
        "wm": wm,
        "hi": hi,
        "account_wm": account_wm,
        "account_hi": account_hi,
        "now": now,
        "tz": s.TIME_ZONE,
        "burst_span": timedelta(minutes=s.PRAHARI_ANOMALY_BURST_MINUTES),
        "burst_views": int(s.PRAHARI_ANOMALY_BURST_VIEWS),
        "requests": int(s.PRAHARI_ANOMALY_CADENCE_REQUESTS),
        "gaps": max(int(s.PRAHARI_ANOMALY_CADENCE_REQUESTS), 2) - 1,
        "cv": s.PRAHARI_ANOMALY_CADENCE_CV_PERCENT / 100,
        "night_start": timedelta(hours=s.PRAHARI_ANOMALY_NIGHT_START_HOUR),
        "night_length": timedelta(hours=(s.PRAHARI_ANOMALY_NIGHT_END_HOUR - s.PRAHARI_ANOMALY_NIGHT_START_HOUR) % 24),
        "night_views": int(s.PRAHARI_ANOMALY_NIGHT_VIEWS),
        "ip_span": timedelta(minutes=60),
        "ips": int(s.PRAHARI_ANOMALY_IPS_PER_HOUR),
        "oos": int(s.PRAHARI_ANOMALY_OUT_OF_SCOPE_PER_DAY),
        "baseline_days": int(s.PRAHARI_ANOMALY_BASELINE_DAYS),
        "factor": int(s.PRAHARI_ANOMALY_BASELINE_FACTOR),
        "percentile": int(s.PRAHARI_ANOMALY_BASELINE_PERCENTILE),
        "min_days": int(s.PRAHARI_ANOMALY_BASELINE_MIN_DAYS),
        "day_limit": int(s.PRAHARI_UNEXPLAINED_DAY_LIMIT),
        "week_limit": int(s.PRAHARI_UNEXPLAINED_WEEK_LIMIT),
        "failed": FAILED,
        "fail_span": timedelta(minutes=s.PRAHARI_ANOMALY_FAILED_LOGIN_MINUTES),
        "failures": int(s.PRAHARI_ANOMALY_FAILED_LOGINS),
    }


def baseline_hits(*, wm: int, hi: int, account_wm: int, account_hi: int, now: datetime) -> list[tuple]:
    """The hits the job would raise over these events (module docstring), in one transaction, writing nothing."""
    from django.db import connection, transaction

    from governance.rules.statements import WORK_MEM_MB  # the job's session setting, not its SQL

    params = _params(wm=wm, hi=hi, account_wm=account_wm, account_hi=account_hi, now=now)
    severities = ", ".join(f"('{rule}', {int(level)})" for rule, level in SEVERITY.items())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL jit = off; SET LOCAL work_mem = '{int(WORK_MEM_MB)}MB'")
        cursor.execute(SQL.replace("%(severities)s", severities), params)
        return cursor.fetchall()
