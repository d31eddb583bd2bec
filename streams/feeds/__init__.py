"""Adapters that turn what a site's systems send (HL7 v2, FHIR R4, JSON) into contract events (docs/architecture.md)."""
