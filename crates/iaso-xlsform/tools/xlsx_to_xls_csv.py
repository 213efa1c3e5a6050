#!/usr/bin/env python3
"""Write .xls and one-file .csv copies of .xlsx forms (test data and fuzz seeds).

Usage: tools/xlsx_to_xls_csv.py OUT_DIR FORM.xlsx...   (needs openpyxl and xlwt)
Cells are copied as values (numbers stay numbers, dates become serial numbers
with a date format in .xls); the CSV uses the layout the converter accepts: the
sheet name in column 1 on the sheet's first line, the cells from column 2.
"""
import csv, datetime, os, sys

import openpyxl
import xlwt


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for path in sys.argv[2:]:
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem == "data":
            stem = os.path.basename(os.path.dirname(path))
        wb = openpyxl.load_workbook(path, data_only=True)
        book = xlwt.Workbook(encoding="utf-8")
        rows_csv = []
        for ws in wb.worksheets:
            sheet = book.add_sheet(ws.title[:31])
            first = True
            for r, row in enumerate(ws.iter_rows(values_only=True)):
                cells = ["" if v is None else v for v in row]
                for c, v in enumerate(cells):
                    if v == "":
                        continue
                    if isinstance(v, datetime.datetime):
                        sheet.write(r, c, v, date_style)
                    else:
                        sheet.write(r, c, v)
                rows_csv.append([ws.title if first else ""] + [str(v) for v in cells])
                first = False
        book.save(os.path.join(out_dir, stem + ".xls"))
        with open(os.path.join(out_dir, stem + ".csv"), "w", newline="", encoding="utf-8") as f:
            width = max(len(r) for r in rows_csv) if rows_csv else 1
            w = csv.writer(f)
            for r in rows_csv:
                w.writerow(r + [""] * (width - len(r)))


if __name__ == "__main__":
    main()
