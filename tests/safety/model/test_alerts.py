"""safety.alerts: an alert reads back from the JSON it writes (contract: alerts.jsonl / safety.alerts)."""

from __future__ import annotations

import phi_fixtures as phi

from safety.model.outputs import Alert


def test_an_sae_of_a_subject_not_yet_infused_reads_back_from_its_json(ruleset) -> None:  # type: ignore[no-untyped-def]
    screening = [{**e, "subject_id": "AA-902"} for e in phi.events() if e["event_id"] == "PHI-AE-2"]
    [alert] = phi.alerts(ruleset, screening)  # no infusion yet: no day 0, no study day
    assert (alert.rule_id, alert.study_day) == ("SAE-SERIOUS", None)
    assert "study_day" not in alert.to_json()  # None fields are left out (contract)
    assert Alert.model_validate_json(alert.to_json()) == alert  # what delivery and reports read back
