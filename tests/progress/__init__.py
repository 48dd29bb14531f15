"""Progress reports through the year: calendar, requests, workbook, intake, reminders."""
