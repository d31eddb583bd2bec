"""One exception tree for the service; every message says what to do (architecture convention 13)."""


class SafetyError(Exception):
    """Base of every error the service raises on purpose."""


class RuleFileError(SafetyError, ValueError):
    """A rules/ file is invalid; the message names the file, the entry and the field."""


class ContractError(SafetyError, ValueError):
    """Input that breaks the event contract (shared/contract/events.md)."""


class DeliveryConfigError(SafetyError, ValueError):
    """The notification configuration cannot reach a recipient the protocol requires."""
