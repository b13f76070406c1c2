"""Everything that touches the outside world's formats: reading extracts, the SQL store, writers.

Nothing here knows about matching or rules.  The stages hand each other pandas frames whose
columns are fixed by the contracts below (the pipeline wires them; see ``pipeline.py``).

Contract A — canonical tables (``adapters.ingest.load_extracts`` → ``Extracts.tables``)
---------------------------------------------------------------------------------------
One frame per standard file stem, always present (empty with the right columns when the
file was not supplied): ``gp_patients``, ``gp_events``, ``gp_correspondence``,
``ae_attendances``, ``mh_patients``, ``mh_activity``, ``police_nominals``,
``police_incidents``.  Columns are the standard-layout names of ../shared/spec/EXTRACTS.md,
parsed:

* text and identifiers: pandas ``string`` dtype, stripped, ``pd.NA`` when empty;
* dates: ``datetime64[ns]`` at midnight; date-times: ``datetime64[ns]``; ``NaT`` when empty;
* Y/N columns (``sensitive``, ``domestic``, ``bail_conditions``, ``bail_breach``): ``bool``,
  blank = False;
* ``sex``: ``M`` / ``F`` / ``U`` or NA;
* ``nhs_number``: the 10 digits when they pass the modulus-11 check, else NA; beside it
  ``nhs_number_status``: ``valid`` / ``invalid`` / ``missing`` (an invalid number is never
  identity);
* ``postcode``: upper case with one space before the inward code (``CV11 4AA``), NA when
  empty; beside it ``postcode_valid`` (bool, UK format);
* code lists (``diagnoses``, ``safeguarding_concerns``, ``codes``): ``|``-separated string;
* ``role``, ``activity_type``, ``discharge_method``, ``dash_risk``: upper case;
* every table also has ``_file`` (file name) and ``_line`` (int, header = line 1).

Contract B — person records (``adapters.records.person_records(tables, as_of)``)
--------------------------------------------------------------------------------
One row per person-bearing record that existed on ``as_of`` (A&E attendances arriving after
``as_of`` and GP registrations starting after it are left out):

==================  ===============================================================
record_key          ``"<source>:<org_code>:<record_id>"``, unique
source              ``gp`` / ``ae`` / ``mh`` / ``police``
org_code            practice_code / provider_code / provider_code / force_code
record_id           patient_id / attendance_id / local_patient_id / nominal_id
local_id            the recipient's own id (A&E: local_patient_id, else attendance_id)
nhs_number          valid only (as in contract A), ``nhs_number_status`` beside it
given_name, family_name, date_of_birth, sex
address_1, address_2, town, postcode, postcode_valid, uprn
sensitive           bool; True only on GP rows marked ``sensitive=Y``
address_date        when this record's address was last known true: GP registered_on;
                    A&E arrival_at; MH latest activity start_date <= as_of; police latest
                    incident occurred_at <= as_of (NaT when unknown)
gp_current          bool; GP row registered on ``as_of`` (deregistered_on blank or later)
gp_practice_code    the practice the A&E/MH record names (NA for GP/police, and for
                    V81997/V81998/V81999)
==================  ===============================================================

The event tables refer to person records by the same key: ``gp_events`` →
``gp:{practice_code}:{patient_id}``, ``ae_attendances`` → ``ae:{provider_code}:{attendance_id}``,
``mh_activity`` → ``mh:{provider_code}:{local_patient_id}``, ``police_incidents`` →
``police:{force_code}:{nominal_id}``.
"""
