"""The vehicle's VDA 5050 factsheet (§6.15): what it is and which actions it runs."""

from __future__ import annotations

from missions.vda5050 import (
    ActionScope,
    AgvAction,
    AgvActionParameter,
    AgvClass,
    AgvGeometry,
    AgvKinematic,
    Factsheet,
    LoadSpecification,
    LocalizationType,
    MaxArrayLens,
    MaxStringLens,
    NavigationType,
    PhysicalParameters,
    ProtocolFeatures,
    ProtocolLimits,
    Timing,
    TypeSpecification,
    ValueDataType,
    utc_timestamp,
)
from missions.vda5050.protocol import PROTOCOL_VERSION
from robot_agent.config import AgentConfig

_P = AgvActionParameter
_NUM, _STR, _OBJ = ValueDataType.NUMBER, ValueDataType.STRING, ValueDataType.OBJECT
_INSTANT, _NODE = ActionScope.INSTANT, ActionScope.NODE


def _action(
    kind: str, scopes: list[ActionScope], *params: AgvActionParameter, text: str
) -> AgvAction:
    return AgvAction(
        action_type=kind,
        action_scopes=scopes,
        action_parameters=list(params) or None,
        action_description=text,
    )


def supported_actions(capabilities: list[str]) -> list[AgvAction]:
    """The actions this vehicle runs, given its capabilities (see docs/protocol.md)."""
    actions = [
        _action("startPause", [_INSTANT], text="hold still, actions pause"),
        _action("stopPause", [_INSTANT], text="carry on"),
        _action("cancelOrder", [_INSTANT], text="stop and drop the order"),
        _action("stateRequest", [_INSTANT], text="publish a state now"),
        _action("factsheetRequest", [_INSTANT], text="publish this factsheet"),
        _action("startCharging", [_INSTANT, _NODE], text="charge on a charger"),
        _action("stopCharging", [_INSTANT, _NODE], text="stop charging"),
        _action(
            "speak",
            [_INSTANT, _NODE],
            _P(key="text", value_data_type=_STR),
            _P(key="language", value_data_type=_STR, is_optional=True),
            text="say a prompt",
        ),
    ]
    actions += [
        _action(
            "openDoor",
            [_NODE],
            _P(key="doorName", value_data_type=_STR),
            _P(key="timeoutS", value_data_type=_NUM, is_optional=True),
            text="wait until the building opens the door",
        ),
        _action(
            "callLift",
            [_NODE],
            _P(key="liftName", value_data_type=_STR),
            _P(key="toMapId", value_data_type=_STR),
            _P(key="timeoutS", value_data_type=_NUM, is_optional=True),
            text="call the lift and wait until it is here; the next edge is the ride",
        ),
    ]
    if "patrol" in capabilities:
        actions.append(
            _action(
                "patrolCheck",
                [_NODE],
                _P(key="dwellS", value_data_type=_NUM, is_optional=True),
                _P(key="checks", value_data_type=ValueDataType.ARRAY, is_optional=True),
                text="dwell and check sensors",
            )
        )
    if "uv_disinfection" in capabilities:
        actions.append(
            _action(
                "uvDisinfect",
                [_NODE],
                _P(key="dwellS", value_data_type=_NUM),
                _P(key="targetDoseMjCm2", value_data_type=_NUM, is_optional=True),
                _P(key="distanceM", value_data_type=_NUM, is_optional=True),
                _P(key="lamp", value_data_type=_STR, is_optional=True),
                _P(key="irradianceAt1mMwCm2", value_data_type=_NUM, is_optional=True),
                _P(key="maxInterruptionS", value_data_type=_NUM, is_optional=True),
                text="UV-C lamp on for dwellS while nobody is near",
            )
        )
    if "spray_disinfection" in capabilities:
        actions.append(
            _action(
                "sprayDisinfect",
                [_NODE],
                _P(key="agent", value_data_type=_STR),
                _P(key="volumeMl", value_data_type=_NUM),
                _P(key="maxInterruptionS", value_data_type=_NUM, is_optional=True),
                text="dispense volumeMl while nobody is near",
            )
        )
    if "guidance" in capabilities or "reception" in capabilities:
        actions.append(
            _action(
                "guideWaitForPerson",
                [_NODE],
                _P(key="timeoutS", value_data_type=_NUM, is_optional=True),
                text="wait until the guided person is there",
            )
        )
    return actions


def build_factsheet(config: AgentConfig, header_id: int) -> Factsheet:
    """The factsheet for this agent's robot."""
    robot = config.robot
    return Factsheet(
        header_id=header_id,
        timestamp=utc_timestamp(),
        version=PROTOCOL_VERSION,
        manufacturer=config.manufacturer,
        serial_number=config.serial_number,
        type_specification=TypeSpecification(
            series_name=robot.kind,
            series_description=f"service robot: {', '.join(robot.capabilities)}",
            agv_kinematic=AgvKinematic.DIFF,
            # VDA 5050 knows no service-robot class; CARRIER is the closest (no load handling).
            agv_class=AgvClass.CARRIER,
            max_load_mass=0.0,
            localization_types=[LocalizationType.NATURAL],
            navigation_types=[NavigationType.AUTONOMOUS],
        ),
        physical_parameters=PhysicalParameters(
            speed_min=0.0,
            speed_max=robot.max_speed_m_s,
            acceleration_max=robot.acceleration_m_s2,
            deceleration_max=robot.acceleration_m_s2,
            height_max=robot.height_m,
            width=robot.width_m,
            length=robot.length_m,
        ),
        protocol_limits=ProtocolLimits(
            max_string_lens=MaxStringLens(),
            max_array_lens=MaxArrayLens(),
            timing=Timing(
                min_order_interval=0.1,
                min_state_interval=0.1,
                default_state_interval=config.state_interval_s,
                visualization_interval=config.visualization_interval_s,
            ),
        ),
        protocol_features=ProtocolFeatures(
            optional_parameters=[], agv_actions=supported_actions(list(robot.capabilities))
        ),
        agv_geometry=AgvGeometry(),
        load_specification=LoadSpecification(),
    )
