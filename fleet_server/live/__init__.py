"""The live stream: robot, mission, alarm and schedule changes pushed to subscribed clients."""
