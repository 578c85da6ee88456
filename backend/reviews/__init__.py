"""Reviews beyond approve/reject: who may decide (access), per-job terms (terms), edits
before approving (edits), deadlines with reminders (deadlines), and the audit (audit)."""
