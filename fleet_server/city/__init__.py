"""City integration: the GIS layer and health-platform appointments."""
