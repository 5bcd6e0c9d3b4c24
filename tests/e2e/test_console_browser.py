"""The web console in a real browser against a server with simulated robots (issue 9)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from missions.sites.model import FloorPlan
from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    ROBOTS,
    VIEWER_PASSWORD,
    ConsoleServer,
    screenshot,
    wait_for,
)
from tests.support import vda_messages as vda
from tests.support.mqtt import Recorder


@pytest.fixture
def page(browser: Any, console_server: ConsoleServer) -> Iterator[Any]:
    """A fresh browser context (no stored session) that prefers Chinese."""
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1440, "height": 900}, timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page: Any, server: ConsoleServer, username: str, password: str) -> None:
    page.goto(server.base_url + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=who]")


def open_site(page: Any, server: ConsoleServer) -> None:
    page.goto(server.base_url + "/sites/clinic")
    page.wait_for_selector("[data-testid=site-robots] tr")
    page.wait_for_selector("[data-testid=site-canvas][data-plan=shown]")
    # The plan image loads after the graph and refits the view: wait until it settles.
    previous: list[str] = [""]

    def settled() -> bool:
        view = page.get_attribute("[data-testid=site-canvas]", "data-view") or ""
        stable = view != "" and view == previous[0] and '"level":"L1"' in view
        previous[0] = view
        return stable

    assert wait_for(settled, 15, 0.5), "the site view never settled"


def robot_positions(page: Any) -> dict[str, str]:
    rows = page.query_selector_all("[data-testid=site-robots] tr")
    return {
        str(row.get_attribute("data-robot")): row.query_selector(
            "[data-testid=robot-position]"
        ).inner_text()
        for row in rows
    }


def click_waypoint(page: Any, server: ConsoleServer, name: str) -> None:
    """Click where the waypoint is drawn, computed with the server's own FloorPlan maths."""
    graph = server.api.get("/api/v1/sites/clinic/graph").json()
    waypoint = next(
        wp for level in graph["levels"] for wp in level["waypoints"] if wp["name"] == name
    )
    view = json.loads(page.get_attribute("[data-testid=site-canvas]", "data-view"))
    frame = view["frame"]
    plan = FloorPlan(
        image="-",
        scale_m_per_px=frame["scale_m_per_px"],
        rotation_rad=frame["rotation_rad"],
        translation_m=tuple(frame["translation_m"]),
    )
    u, v = plan.level_to_pixel(waypoint["x"], waypoint["y"])
    box = page.query_selector("[data-testid=site-canvas]").bounding_box()
    page.mouse.click(
        box["x"] + u * view["zoom"] + view["offsetX"], box["y"] + v * view["zoom"] + view["offsetY"]
    )


def test_sign_in_in_chinese_and_see_robots_move(page: Any, console_server: ConsoleServer) -> None:
    long_patrol = console_server.create_mission(
        {
            "kind": "patrol",
            "site": "clinic",
            "rounds": 20,
            "dwell_s": 0.5,
            "checkpoints": ["L1_right_treatment", "L1_sub_waiting_area_8"],
            "preferred_robot": "e2e-patrol-2",
        }
    )
    page.goto(console_server.base_url + "/")
    assert page.inner_text("h2") == "登录"  # the browser prefers Chinese
    screenshot(page, "01-login")
    sign_in(page, console_server, "admin", ADMIN_PASSWORD)
    assert "管理员" in page.inner_text("[data-testid=who]")
    page.wait_for_selector("[data-testid=site-marker-clinic]")
    # Four robots online at the clinic, counted from the live stream.
    page.wait_for_selector("[data-testid=site-marker-clinic] .c-online:text('在线 4')")
    assert page.inner_text("[data-testid=feed-status]").endswith("实时")
    screenshot(page, "02-city")
    page.click("[data-testid=site-marker-clinic]")
    page.wait_for_url("**/sites/clinic")
    open_site(page, console_server)
    assert wait_for(lambda: console_server.mission_state(long_patrol) == "active", 30), (
        "patrol did not start"
    )
    first = robot_positions(page)
    assert set(first) == {f"fleetsim/{serial}" for serial in ROBOTS}
    assert wait_for(
        lambda: robot_positions(page)["fleetsim/e2e-patrol-2"] != first["fleetsim/e2e-patrol-2"],
        10,
    ), "the moving robot's position did not change on the page"
    page.click("[data-robot='fleetsim/e2e-patrol-2']")
    page.wait_for_selector("[data-testid=robot-detail]")
    # Its current mission, from the order it runs.
    page.wait_for_selector(f"[data-testid=robot-detail] a[href='/missions/{long_patrol}']")
    screenshot(page, "03-site-live")
    cancelled = console_server.api.post(f"/api/v1/missions/{long_patrol}/cancel")
    assert cancelled.status_code == 200, cancelled.text


def test_dispatch_a_patrol_by_clicking_checkpoints_and_see_it_complete(
    page: Any, console_server: ConsoleServer
) -> None:
    sign_in(page, console_server, "admin", ADMIN_PASSWORD)
    open_site(page, console_server)
    page.click("[data-testid=dispatch-patrol]")
    click_waypoint(page, console_server, "L1_left_treatment_1")
    click_waypoint(page, console_server, "L1_sub_waiting_area_3")
    screenshot(page, "04-dispatch-picked")
    items = page.query_selector_all("[data-testid=checkpoints] li > span")
    picked = [span.inner_text() for span in items]
    assert picked == [
        "L1_left_treatment_1",
        "L1_sub_waiting_area_3",
    ]
    # The server's validation error lands next to its field.
    page.fill("[data-testid=dwell]", "5000")
    page.click("[data-testid=dispatch-send]")
    error = page.wait_for_selector("[data-testid=field-dwell] .field-errors")
    assert "3600" in error.inner_text()
    screenshot(page, "04-dispatch-field-error")
    page.fill("[data-testid=dwell]", "1")
    page.fill("[data-testid=preferred-robot]", "e2e-patrol")
    page.click("[data-testid=dispatch-send]")
    created = page.wait_for_selector("[data-testid=dispatch-created]")
    mission_id = created.get_attribute("data-mission-id")
    screenshot(page, "05-dispatch-sent")
    # Disinfection: a picked waypoint shows its UV dwell and the ETA before sending.
    page.click("[data-testid=dispatch-disinfection]")
    click_waypoint(page, console_server, "L1_left_negative_air_pressure")
    estimate = page.wait_for_selector("[data-testid=uv-estimate]").inner_text()
    assert "2.67 mW/cm²" in estimate
    # 10 mJ/cm² at 1 m: 3.745 s needed, planned 3.8 s (missions/compiler/stops.py).
    assert "3.8秒" in page.inner_text("[data-testid=targets]")
    assert "L1_left_negative_air_pressure" in page.inner_text("[data-testid=targets]")
    screenshot(page, "05b-disinfection-estimate")
    page.goto(f"{console_server.base_url}/missions/{mission_id}")
    page.wait_for_selector("[data-state=completed]", timeout=120_000)
    assert console_server.mission_state(str(mission_id)) == "completed"
    timeline = page.inner_text("[data-testid=timeline]")
    assert "已完成" in timeline
    screenshot(page, "06-mission-timeline")
    page.goto(f"{console_server.base_url}/missions")
    page.wait_for_selector(f"[data-mission-id='{mission_id}'] [data-state=completed]")
    screenshot(page, "07-missions")


def test_switch_to_english_and_back(page: Any, console_server: ConsoleServer) -> None:
    sign_in(page, console_server, "admin", ADMIN_PASSWORD)
    page.goto(console_server.base_url + "/robots")
    page.wait_for_selector("[data-testid=robots-table] tbody tr")
    assert page.inner_text("h1") == "机器人"
    page.select_option("[data-testid=language]", "en")
    assert page.inner_text("h1") == "Robots"
    assert page.evaluate("document.documentElement.lang") == "en"
    screenshot(page, "08-robots-en")
    page.reload()
    page.wait_for_selector("[data-testid=robots-table]")
    assert page.inner_text("h1") == "Robots"  # the choice is remembered
    page.select_option("[data-testid=language]", "zh-CN")
    assert page.inner_text("h1") == "机器人"
    # An admin registers a robot and sees its MQTT password once.
    page.fill("[data-testid=register-manufacturer]", "fleetsim")
    page.fill("[data-testid=register-serial_number]", "e2e-new")
    page.click("[data-testid=register-submit]")
    credentials = page.wait_for_selector("[data-testid=register-credentials]")
    assert "fleetsim/e2e-new" in credentials.inner_text()
    registered = console_server.api.get("/api/v1/robots/fleetsim/e2e-new")
    assert registered.status_code == 200, registered.text
    assert registered.json()["site_id"] == "clinic"


def test_a_viewer_sees_no_dispatch_button(page: Any, console_server: ConsoleServer) -> None:
    sign_in(page, console_server, "viewer", VIEWER_PASSWORD)
    assert "查看者" in page.inner_text("[data-testid=who]")
    open_site(page, console_server)
    assert page.query_selector("[data-testid=dispatch-send]") is None
    assert page.query_selector("[data-testid=dispatch-panel]") is None
    page.wait_for_selector("[data-testid=no-dispatch]")
    screenshot(page, "09-site-viewer")
    page.goto(console_server.base_url + "/missions")
    page.wait_for_selector("[data-testid=missions-table]")
    assert page.query_selector("[data-testid=missions-table] button") is None


def test_sign_out_forgets_the_session(page: Any, console_server: ConsoleServer) -> None:
    sign_in(page, console_server, "admin", ADMIN_PASSWORD)
    page.click("[data-testid=sign-out]")
    page.wait_for_selector("input[name=username]")
    page.reload()
    page.wait_for_selector("input[name=username]")
    assert page.evaluate("window.localStorage.getItem('fleet.session')") is None


def test_alarms_schedules_and_report_pages(page: Any, console_server: ConsoleServer) -> None:
    uv = console_server.create_mission(
        {
            "kind": "disinfection",
            "site": "clinic",
            "method": "uv",
            "target_dose_mj_cm2": 10,
            "targets": [{"waypoint": "L1_sub_waiting_area_1"}],
        }
    )
    sign_in(page, console_server, "admin", ADMIN_PASSWORD)
    page.goto(console_server.base_url + "/alarms")
    # No alarms API on the server yet: the page says so instead of showing an empty list.
    page.wait_for_selector("[data-testid=alarms-unavailable], [data-testid=alarms-table]")
    screenshot(page, "10-alarms")
    page.goto(console_server.base_url + "/schedules")
    page.wait_for_selector("[data-testid=next-occurrences] li")
    night = "FREQ=DAILY;BYHOUR=22,23,0,1,2,3,4,5,6;BYMINUTE=0"
    assert page.input_value("[data-testid=rrule]") == night
    occurrences = page.query_selector_all("[data-testid=next-occurrences] li")
    assert len(occurrences) == 10
    # Save it as a recurring patrol (the server validates the template against the map).
    page.fill("[data-testid=schedule-name]", "Night patrol")
    template = {"kind": "patrol", "site": "clinic", "checkpoints": ["L1_left_treatment_1"]}
    page.fill("[data-testid=schedule-template]", json.dumps(template))
    page.click("[data-testid=schedule-save]")
    page.wait_for_selector("[data-testid=saved-schedules] li:has-text('Night patrol')")
    saved = console_server.api.get("/api/v1/schedules").json()
    assert [(s["name"], s["rrule"]) for s in saved] == [("Night patrol", night)]
    screenshot(page, "11-schedules")
    assert wait_for(
        lambda: console_server.mission_state(uv) in {"completed", "failed", "cancelled"}, 120, 1
    )
    assert console_server.mission_state(uv) == "completed"
    page.goto(f"{console_server.base_url}/missions/{uv}/report")
    frame = page.wait_for_selector("[data-testid=report-frame]")
    content = frame.content_frame()
    content.wait_for_selector("table")
    assert "L1_sub_waiting_area_1" in content.inner_text("body")
    screenshot(page, "12-report")


def _announce_unregistered_robot(port: int, serial: str) -> None:
    """A robot the server does not know says it is online (VDA 5050 §6.14 connection)."""
    recorder = Recorder(port, topic_filter=f"uagv/v2/fleetsim/{serial}/#")
    try:
        message = vda.connection("fleetsim", serial, "ONLINE")
        topic = f"uagv/v2/fleetsim/{serial}/connection"
        recorder.publish(topic, vda.payload(message), qos=1, retain=False)
    finally:
        recorder.close()


def test_acknowledge_an_alarm(page: Any, console_server: ConsoleServer) -> None:
    if console_server.api.get("/api/v1/alarms").status_code == 404:
        pytest.skip("this server has no alarms API (GET /api/v1/alarms answers 404)")
    _announce_unregistered_robot(console_server.broker_port, "e2e-stranger")
    sign_in(page, console_server, "admin", ADMIN_PASSWORD)
    page.goto(console_server.base_url + "/alarms")
    row = page.wait_for_selector("[data-acknowledged=no]", timeout=30_000)
    alarm_id = row.get_attribute("data-alarm-id")
    row.query_selector("[data-testid=ack-comment]").fill("checked on site")
    row.query_selector("[data-testid=ack]").click()
    page.wait_for_selector(f"[data-alarm-id='{alarm_id}']", state="detached")
    alarm = console_server.api.get(f"/api/v1/alarms/{alarm_id}").json()
    assert alarm["acknowledged_by"] == "admin"
    assert alarm["comment"] == "checked on site"
    page.click("text=显示已确认")
    page.wait_for_selector(f"[data-alarm-id='{alarm_id}'][data-acknowledged=yes]")
    screenshot(page, "13-alarm-acknowledged")
