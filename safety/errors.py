"""One exception tree for the service; every message says what to do, so a user can fix the input or the setting."""


class SafetyError(Exception):
    """Base of every error the service raises on purpose."""


class RuleFileError(SafetyError, ValueError):
    """A rules/ file is invalid; the message names the file, the entry and the field."""


class ContractError(SafetyError, ValueError):
    """Input that breaks the event contract (README, "Input handling"; the models of safety/model/events.py)."""


class DeliveryConfigError(SafetyError, ValueError):
    """The notification configuration cannot reach a recipient the protocol requires."""
