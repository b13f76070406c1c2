"""Person and household linkage.  Nothing here knows about domestic abuse or rules.

Input is the person-records frame of contract B (see ``adapters``); linkage may import
``adapters.errors`` for its exceptions and nothing else from the other packages.

Contract C — persons (``linkage.link_records``)
-----------------------------------------------
``link_records(records, *, settings=LinkageSettings(), decisions=None, previous=None)
-> LinkageResult``

* ``previous``: the ``LinkageResult.state`` of the last night (``LinkageState.to_bytes`` /
  ``from_bytes`` to keep it): the model and the cached pair levels are reused when safe
  (``linkage.incremental``); the answer is the one a full comparison with that model gives.

* ``decisions``: frame ``record_key_l, record_key_r, decision`` (``accepted`` / ``rejected``)
  from the review store; keys ordered ``record_key_l < record_key_r``.  A rejected pair never
  links; an accepted pair always does (unless a guard forbids it).
* ``LinkageResult.pairs``: scored pairs worth keeping (band auto or review, or decided):
  ``record_key_l, record_key_r`` (l < r), ``match_weight`` (log2 Bayes factor, prior
  included), ``match_probability``, ``band`` (``auto`` / ``review`` / ``non``), ``decision``
  (NA when none), and per comparison ``gamma_<name>`` (int level, -1 = null) and
  ``bf_<name>`` (log2 weight of that level, term-frequency adjusted).
* ``LinkageResult.clusters``: ``record_key, cluster_id`` for every input record: connected
  components over auto + accepted links, minus rejected ones, after the guards.
* ``LinkageResult.provisional``: ``record_key, cluster_id`` as if every pending review link
  were accepted (what the held flags are computed on).
* ``LinkageResult.review``: the pending review-band pairs that join two different confirmed
  clusters (same columns as ``pairs``).
* ``LinkageResult.comparisons``: the comparison names and their level labels, in order, so
  a reviewer can be shown the waterfall.

``assign_person_refs(clusters, previous, *, key) -> (record_person, events)`` keeps
``person_ref`` stable across nights (a keyed hash; new records join an existing person, a
merge keeps the older ref, a split is recorded in ``events``).

Contract D — households (``linkage.households.build_households``)
-----------------------------------------------------------------
``build_households(records, *, as_of, key, max_persons=10) -> Households`` where
``records`` is contract B plus ``person_ref``.  ``Households.people`` has one row per person:
``person_ref, household_ref`` (NA when none), ``address_key``, ``communal`` (bool),
``no_fixed_abode`` (bool), ``sensitive`` (bool); ``Households.addresses`` maps every record
to its ``address_key``.  A person's current address is their current GP registration's
(the latest registered_on), else the record with the latest ``address_date``.  A sensitive
person is in no household and their address links nobody.
"""

from linkage.engine import LinkageResult, explain, link_records
from linkage.identity import assign_person_refs
from linkage.incremental import LinkageState
from linkage.settings import DEFAULT_BLOCKING_RULES, BlockingRule, LinkageSettings

__all__ = [
    "DEFAULT_BLOCKING_RULES",
    "BlockingRule",
    "LinkageResult",
    "LinkageSettings",
    "LinkageState",
    "assign_person_refs",
    "explain",
    "link_records",
]
