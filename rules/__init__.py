"""Safeguarding evidence, the rule catalogue, routing and the flag lifecycle.

Pure functions of frames: nothing here reads files or databases, and nothing here imports
``adapters`` or ``linkage``.  Errors are ``ValueError`` subclasses (``RuleConfigError``) that
the pipeline turns into the library's ``ConfigError``.

Contract E — inputs (built by the pipeline)
-------------------------------------------
* ``tables``: the canonical tables of contract A (``adapters``), keyed by file stem.
* ``records``: contract B person records plus ``person_ref`` (and ``household_ref``).
* ``people``: one row per person: ``person_ref, date_of_birth, household_ref`` (NA when
  none), ``communal`` (bool), ``sensitive`` (bool).

Outputs
-------
* flags: ``rule, severity, person_ref, recipient_type`` (``gp`` / ``ae`` / ``mh`` /
  ``police`` / ``unrouted``), ``recipient_code``, ``local_id, nhs_number, summary,
  evidence_date``; only ever to recipients that hold the person.
* warnings: ``rule, recipient_type, recipient_code, person_ref, reference, local_id,
  due_by, sent_at, hours_late, holiday_period``.
"""
