"""Enumerations of VDA 5050 2.1.0, values exactly as on the wire (§6.1: UPPERCASE)."""

from __future__ import annotations

from enum import StrEnum


class BlockingType(StrEnum):
    """Whether an action may run while driving or beside other actions (§6.12)."""

    NONE = "NONE"
    SOFT = "SOFT"
    HARD = "HARD"


class OrientationType(StrEnum):
    """How ``edge.orientation`` is interpreted; absent means TANGENTIAL (§6.6.6).

    The 2.1.0 order.schema types this field as a free string; the spec table defines
    it as this enum, which is what we follow.
    """

    GLOBAL = "GLOBAL"
    TANGENTIAL = "TANGENTIAL"


class CorridorRefPoint(StrEnum):
    """Which part of the vehicle must stay inside a corridor (§6.6.5)."""

    KINEMATICCENTER = "KINEMATICCENTER"
    CONTOUR = "CONTOUR"


class MapStatus(StrEnum):
    """Whether a map version stored on the vehicle is in use (§6.7.2)."""

    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


class OperatingMode(StrEnum):
    """Who controls the vehicle (§6.10.6, table 1)."""

    AUTOMATIC = "AUTOMATIC"
    SEMIAUTOMATIC = "SEMIAUTOMATIC"
    MANUAL = "MANUAL"
    SERVICE = "SERVICE"
    TEACHIN = "TEACHIN"


class ActionStatus(StrEnum):
    """Life-cycle stage of an action (§6.11, table 2).

    PAUSED is in the spec's table 2 and §6.10.6 but missing from the enum in the
    official 2.1.0 state.schema; a state carrying it is valid VDA 5050 yet fails
    that schema.
    """

    WAITING = "WAITING"
    INITIALIZING = "INITIALIZING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"


class ErrorLevel(StrEnum):
    """Severity of a vehicle error (§6.10.6)."""

    WARNING = "WARNING"
    FATAL = "FATAL"


class InfoLevel(StrEnum):
    """Purpose of an information entry (§6.10.6)."""

    INFO = "INFO"
    DEBUG = "DEBUG"


class EStop(StrEnum):
    """Acknowledge type of an active emergency stop; NONE when none is active (§6.10.6)."""

    AUTOACK = "AUTOACK"
    MANUAL = "MANUAL"
    REMOTE = "REMOTE"
    NONE = "NONE"


class ConnectionState(StrEnum):
    """Vehicle-to-broker connection state on the connection topic (§6.14)."""

    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    CONNECTIONBROKEN = "CONNECTIONBROKEN"


class AgvKinematic(StrEnum):
    """Kinematics type in the factsheet's typeSpecification (§6.15.1)."""

    DIFF = "DIFF"
    OMNI = "OMNI"
    THREEWHEEL = "THREEWHEEL"


class AgvClass(StrEnum):
    """Vehicle class in the factsheet's typeSpecification (§6.15.1)."""

    FORKLIFT = "FORKLIFT"
    CONVEYOR = "CONVEYOR"
    TUGGER = "TUGGER"
    CARRIER = "CARRIER"


class LocalizationType(StrEnum):
    """Localization technique in the factsheet's typeSpecification (§6.15.1)."""

    NATURAL = "NATURAL"
    REFLECTOR = "REFLECTOR"
    RFID = "RFID"
    DMC = "DMC"
    SPOT = "SPOT"
    GRID = "GRID"


class NavigationType(StrEnum):
    """Path planning type in the factsheet's typeSpecification (§6.15.1)."""

    PHYSICAL_LINE_GUIDED = "PHYSICAL_LINE_GUIDED"
    VIRTUAL_LINE_GUIDED = "VIRTUAL_LINE_GUIDED"
    AUTONOMOUS = "AUTONOMOUS"


class Support(StrEnum):
    """How the vehicle treats an optional protocol parameter (§6.15.1 protocolFeatures)."""

    SUPPORTED = "SUPPORTED"
    REQUIRED = "REQUIRED"


class ActionScope(StrEnum):
    """Where an action type may be used (§6.15.1 protocolFeatures)."""

    INSTANT = "INSTANT"
    NODE = "NODE"
    EDGE = "EDGE"


class ValueDataType(StrEnum):
    """Declared data type of an action parameter in the factsheet (§6.15.1)."""

    BOOL = "BOOL"
    NUMBER = "NUMBER"
    INTEGER = "INTEGER"
    FLOAT = "FLOAT"
    STRING = "STRING"
    OBJECT = "OBJECT"
    ARRAY = "ARRAY"


class WheelType(StrEnum):
    """Wheel type in the factsheet's agvGeometry (§6.15.1)."""

    DRIVE = "DRIVE"
    CASTER = "CASTER"
    FIXED = "FIXED"
    MECANUM = "MECANUM"
