"""Service catalogue (事项目录): departments, service items and their materials."""
