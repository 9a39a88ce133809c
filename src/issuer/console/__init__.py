"""The developer console under ``/console``: token inspection, live feed, trying actions."""
