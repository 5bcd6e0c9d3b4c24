"""robot_agent."""
