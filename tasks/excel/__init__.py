"""The Excel kit shared by every workbook a unit fills in (the submission workbook and the progress-report
workbook): column layout, styles and sheet protection, the signed metadata sheet, the file checks, and the
readers and checks of cells, rows and headers. Plain functions: no database, no Prefect."""
