"""The onboard fleet agent as a ROS 2 node: `robot_agent` driving a Nav2 robot.

Plain modules (no rclpy): names, conversions, params, commands, navigation,
service_calls, readings, adapter, runtime. rclpy modules: ros_bridge, node.
"""
