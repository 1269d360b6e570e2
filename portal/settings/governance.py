"""The governance numbers of SECURITY.md, each overridable by an environment variable of the same name."""

from portal.settings.env import env_bool, env_int, env_list, env_str

# Lockouts
PRAHARI_LOCKOUT_FAILURES = env_int("PRAHARI_LOCKOUT_FAILURES", 10)
PRAHARI_LOCKOUT_MINUTES = env_int("PRAHARI_LOCKOUT_MINUTES", 15)
PRAHARI_LOCKOUTS_BEFORE_HOLD = env_int("PRAHARI_LOCKOUTS_BEFORE_HOLD", 3)
PRAHARI_IP_FAILURES_PER_HOUR = env_int("PRAHARI_IP_FAILURES_PER_HOUR", 50)
PRAHARI_IP_BLOCK_MINUTES = env_int("PRAHARI_IP_BLOCK_MINUTES", 60)
PRAHARI_LOCKOUT_HOLD_WINDOW_HOURS = env_int("PRAHARI_LOCKOUT_HOLD_WINDOW_HOURS", 24)

# One-time codes
PRAHARI_SMS_CODE_MINUTES = env_int("PRAHARI_SMS_CODE_MINUTES", 5)
PRAHARI_SMS_CODE_TRIES = env_int("PRAHARI_SMS_CODE_TRIES", 5)
PRAHARI_SMS_SENDS_PER_WINDOW = env_int("PRAHARI_SMS_SENDS_PER_WINDOW", 3)
PRAHARI_SMS_SEND_WINDOW_MINUTES = env_int("PRAHARI_SMS_SEND_WINDOW_MINUTES", 15)
PRAHARI_BACKUP_CODES = env_int("PRAHARI_BACKUP_CODES", 10)
PRAHARI_LOGIN_ATTEMPT_MINUTES = env_int("PRAHARI_LOGIN_ATTEMPT_MINUTES", 10)  # password proven, OTP awaited

# Sessions and step-up
PRAHARI_SESSION_IDLE_MINUTES = env_int("PRAHARI_SESSION_IDLE_MINUTES", 15)
PRAHARI_SESSION_ABSOLUTE_HOURS = env_int("PRAHARI_SESSION_ABSOLUTE_HOURS", 12)
PRAHARI_STEP_UP_MINUTES = env_int("PRAHARI_STEP_UP_MINUTES", 5)
PRAHARI_FRESH_LOGIN_MINUTES = env_int("PRAHARI_FRESH_LOGIN_MINUTES", 5)  # before changing OTP devices or mobile

# Devices
PRAHARI_MAX_APPROVED_DEVICES = env_int("PRAHARI_MAX_APPROVED_DEVICES", 2)

# Accounts and reviews
PRAHARI_DORMANCY_WARN_DAYS = env_int("PRAHARI_DORMANCY_WARN_DAYS", 30)
PRAHARI_DORMANCY_SUSPEND_DAYS = env_int("PRAHARI_DORMANCY_SUSPEND_DAYS", 45)
PRAHARI_REVERIFY_DAYS_WORKER = env_int("PRAHARI_REVERIFY_DAYS_WORKER", 180)
PRAHARI_REVERIFY_DAYS_SUPERVISOR = env_int("PRAHARI_REVERIFY_DAYS_SUPERVISOR", 90)
PRAHARI_REVERIFY_REMINDER_DAYS = [int(d) for d in env_list("PRAHARI_REVERIFY_REMINDER_DAYS", ["14", "7", "1"])]
PRAHARI_INVITATION_HOURS = env_int("PRAHARI_INVITATION_HOURS", 72)
# Four eyes at onboarding: the approver must not be the inviter (off by default: a district may have one supervisor).
PRAHARI_APPROVER_DIFFERS_FROM_INVITER = env_bool("PRAHARI_APPROVER_DIFFERS_FROM_INVITER", False)

# Record access
PRAHARI_RECORD_SCOPE = env_str("PRAHARI_RECORD_SCOPE", "facility")  # or "district"
PRAHARI_SEARCH_MAX_RESULTS = env_int("PRAHARI_SEARCH_MAX_RESULTS", 10)
PRAHARI_DAILY_VIEW_BUDGET = env_int("PRAHARI_DAILY_VIEW_BUDGET", 300)
PRAHARI_DAILY_REVEAL_LIMIT = env_int("PRAHARI_DAILY_REVEAL_LIMIT", 20)

# Anomaly rules (the `anomalies` job, governance/anomalies.py): "more than" fires at limit + 1, "or more" at the limit.
PRAHARI_ANOMALY_BURST_VIEWS = env_int("PRAHARI_ANOMALY_BURST_VIEWS", 60)  # more than this many views…
PRAHARI_ANOMALY_BURST_MINUTES = env_int("PRAHARI_ANOMALY_BURST_MINUTES", 10)  # …within this many minutes
PRAHARI_ANOMALY_BASELINE_FACTOR = env_int("PRAHARI_ANOMALY_BASELINE_FACTOR", 5)  # a day above 5× the worker's…
PRAHARI_ANOMALY_BASELINE_PERCENTILE = env_int("PRAHARI_ANOMALY_BASELINE_PERCENTILE", 95)  # …95th percentile…
PRAHARI_ANOMALY_BASELINE_DAYS = env_int("PRAHARI_ANOMALY_BASELINE_DAYS", 30)  # …of daily views over 30 days…
PRAHARI_ANOMALY_BASELINE_MIN_DAYS = env_int("PRAHARI_ANOMALY_BASELINE_MIN_DAYS", 7)  # …with at least 7 active days
PRAHARI_ANOMALY_OUT_OF_SCOPE_PER_DAY = env_int("PRAHARI_ANOMALY_OUT_OF_SCOPE_PER_DAY", 3)  # or more, per local day
PRAHARI_ANOMALY_NIGHT_VIEWS = env_int("PRAHARI_ANOMALY_NIGHT_VIEWS", 10)  # more than this many views in one night
PRAHARI_ANOMALY_NIGHT_START_HOUR = env_int("PRAHARI_ANOMALY_NIGHT_START_HOUR", 22)  # local time (TIME_ZONE)
PRAHARI_ANOMALY_NIGHT_END_HOUR = env_int("PRAHARI_ANOMALY_NIGHT_END_HOUR", 6)
PRAHARI_ANOMALY_CADENCE_REQUESTS = env_int("PRAHARI_ANOMALY_CADENCE_REQUESTS", 30)  # this many consecutive requests…
PRAHARI_ANOMALY_CADENCE_CV_PERCENT = env_int("PRAHARI_ANOMALY_CADENCE_CV_PERCENT", 15)  # …whose gaps vary less than 15%
PRAHARI_ANOMALY_IPS_PER_HOUR = env_int("PRAHARI_ANOMALY_IPS_PER_HOUR", 3)  # or more distinct IPs within 60 minutes
# Failed logins: this many or more password or OTP failures of one account within the minutes below. Half the
# lockout (10 in 15 minutes): it also catches guessing paced to stay under the lockout.
PRAHARI_ANOMALY_FAILED_LOGINS = env_int("PRAHARI_ANOMALY_FAILED_LOGINS", 5)
PRAHARI_ANOMALY_FAILED_LOGIN_MINUTES = env_int("PRAHARI_ANOMALY_FAILED_LOGIN_MINUTES", 10)
PRAHARI_ANOMALY_EVIDENCE_EVENTS = env_int("PRAHARI_ANOMALY_EVIDENCE_EVENTS", 50)  # event ids kept in an alert
# PostgreSQL: how long a run waits for log writers older than it to commit before it holds back (see the job).
PRAHARI_ANOMALY_WRITER_WAIT_SECONDS = env_int("PRAHARI_ANOMALY_WRITER_WAIT_SECONDS", 5)

# Access log: the key of its hash chain (set it explicitly in production; default: derived from the secret key)
PRAHARI_AUDIT_KEY = env_str("PRAHARI_AUDIT_KEY")
# Also send each signed checkpoint to this syslog receiver, "host:port" over UDP (docs/audit-checkpoints.md)
PRAHARI_AUDIT_CHECKPOINT_SYSLOG = env_str("PRAHARI_AUDIT_CHECKPOINT_SYSLOG") or None

# Retention
# Whole months of the access log older than this are dropped, each after its signed cut (records/partitions.py);
# SECURITY.md asks for at least 400 days online. The `partitions` job keeps this many months made ahead.
PRAHARI_ACCESS_LOG_RETENTION_DAYS = env_int("PRAHARI_ACCESS_LOG_RETENTION_DAYS", 400)
PRAHARI_ACCESS_LOG_PARTITIONS_AHEAD = env_int("PRAHARI_ACCESS_LOG_PARTITIONS_AHEAD", 3)
# History of approvals and reviews: SECURITY.md asks for 6 years. Six calendar years hold one or two 29 Februaries,
# so 6 × 365 days would prune a row up to two days early; 6 × 365 + 2 never does (at most two days late).
PRAHARI_HISTORY_RETENTION_DAYS = env_int("PRAHARI_HISTORY_RETENTION_DAYS", 6 * 365 + 2)

# The beneficiary's consent to a look-up ("asked in person"), a code to the record's mobile: records/consent.py.
PRAHARI_CONSENT_CODE_MINUTES = env_int("PRAHARI_CONSENT_CODE_MINUTES", 5)
PRAHARI_CONSENT_CODE_TRIES = env_int("PRAHARI_CONSENT_CODE_TRIES", 3)
PRAHARI_CONSENT_SENDS_PER_BENEFICIARY_HOUR = env_int("PRAHARI_CONSENT_SENDS_PER_BENEFICIARY_HOUR", 3)
PRAHARI_CONSENT_SENDS_PER_WORKER_DAY = env_int("PRAHARI_CONSENT_SENDS_PER_WORKER_DAY", 20)
# Explained access (records/explain.py, the `explain` job): an appointment within this many days of a look-up
# (before or after), a dose within this many days before it.
PRAHARI_EXPLAIN_APPOINTMENT_DAYS = env_int("PRAHARI_EXPLAIN_APPOINTMENT_DAYS", 7)
PRAHARI_EXPLAIN_DOSE_DAYS = env_int("PRAHARI_EXPLAIN_DOSE_DAYS", 30)
# More than this many unexplained records opened in a local day raise a medium alert; in seven days, a high one.
PRAHARI_UNEXPLAINED_DAY_LIMIT = env_int("PRAHARI_UNEXPLAINED_DAY_LIMIT", 20)
PRAHARI_UNEXPLAINED_WEEK_LIMIT = env_int("PRAHARI_UNEXPLAINED_WEEK_LIMIT", 100)
# Beneficiary transparency (records/transparency.py, /my-record/): a code to the record's mobile opens the record's
# look-ups of the last PRAHARI_TRANSPARENCY_DAYS for a short session; code asks are limited per hour per IP address,
# per reference id typed and per mobile typed.
PRAHARI_TRANSPARENCY_CODE_MINUTES = env_int("PRAHARI_TRANSPARENCY_CODE_MINUTES", 5)
PRAHARI_TRANSPARENCY_CODE_TRIES = env_int("PRAHARI_TRANSPARENCY_CODE_TRIES", 3)
PRAHARI_TRANSPARENCY_SESSION_MINUTES = env_int("PRAHARI_TRANSPARENCY_SESSION_MINUTES", 15)
PRAHARI_TRANSPARENCY_DAYS = env_int("PRAHARI_TRANSPARENCY_DAYS", 90)
PRAHARI_TRANSPARENCY_PER_IP_HOUR = env_int("PRAHARI_TRANSPARENCY_PER_IP_HOUR", 10)
PRAHARI_TRANSPARENCY_PER_REFERENCE_HOUR = env_int("PRAHARI_TRANSPARENCY_PER_REFERENCE_HOUR", 3)
PRAHARI_TRANSPARENCY_PER_MOBILE_HOUR = env_int("PRAHARI_TRANSPARENCY_PER_MOBILE_HOUR", 3)
