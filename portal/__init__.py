"""The submission portal: the small web app each unit reaches through its signed link."""
