"""The fleet's Gazebo demo: launch helpers that need no ROS (see `plan`)."""
