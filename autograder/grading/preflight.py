"""Look at a submission before nbgrader does: reject what is not a notebook of this assignment,
repair what nbgrader would mis-grade, and say in words what was found.

Rejected (graded zero, with the reason): an empty file, invalid JSON, JSON that is not a
Jupyter notebook, a notebook larger than the size limit, a notebook that has none of the
assignment's graded cells (another assignment's, or a lecture).

Repaired (graded normally, with a note):

* a graded cell that was **deleted** (or whose nbgrader metadata was stripped) is put back from
  the student version, after the cell that precedes it there: a test cell comes back whole, a
  solution cell comes back as the unanswered stub;
* a graded cell that is **duplicated** keeps its identity in the first copy only (nbgrader's
  rule); every copy still runs, in order, so the copy the student edited last defines the function;
* cells **reordered** (a test above its solution) are put back in the assignment's order; the
  student's own extra cells travel with the cell they followed;
* a graded cell **retyped** (code to markdown) gets its type back, with the student's text;
* a **test cell edited** or re-pointed (other points) gets its metadata back here and its source
  back from the gradebook by nbgrader (``OverwriteCells``), which also restores hidden tests;
* nbgrader metadata on a cell that is not the assignment's is removed (nbgrader would otherwise
  reject the whole notebook as corrupted).
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import nbformat

MAX_NOTEBOOK_MB = 50


@dataclass
class Checked:
    notebook: bytes | None            #: the notebook to grade (None: rejected)
    rejected: str | None = None       #: why it cannot be graded
    notes: list = field(default_factory=list)


def _gid(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _plain(text) -> str:
    return "".join(text) if isinstance(text, list) else (text or "")


def _to_type(cell, cell_type: str):
    cell = copy.deepcopy(cell)
    cell["cell_type"] = cell_type
    if cell_type == "code":
        cell["outputs"], cell["execution_count"] = [], None
        cell.pop("attachments", None)
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
    return cell


def check(data: bytes, release: nbformat.NotebookNode, assignment: str, other_assignments: dict,
          max_mb: float = MAX_NOTEBOOK_MB) -> Checked:
    """Inspect ``data`` (the submitted notebook's bytes) against the student version ``release``.

    ``other_assignments`` maps another assignment's name to its graded cells' ids, to name the
    assignment a wrong notebook belongs to.
    """
    if len(data) == 0:
        return Checked(None, "the submitted notebook is an empty file (0 bytes)")
    if len(data) > max_mb * 2 ** 20:
        return Checked(None, f"the submitted notebook is {len(data) / 2 ** 20:.0f} MB, over the limit of "
                             f"{max_mb:g} MB (clear its outputs and resubmit)")
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Checked(None, f"not a notebook: the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
    except json.JSONDecodeError as exc:
        return Checked(None, f"not a notebook: invalid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})")
    except RecursionError:
        return Checked(None, "not a notebook: JSON nested too deeply")
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list) or "nbformat" not in raw:
        return Checked(None, "not a Jupyter notebook: valid JSON, but without the notebook's "
                             "`nbformat` and `cells` fields")
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds
        return Checked(None, f"not a readable Jupyter notebook: {type(exc).__name__}: {str(exc)[:200]}")
    for cell in nb.cells:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            return Checked(None, "not a readable Jupyter notebook: a cell has no valid cell_type")

    expected = [c for c in release.cells if _gid(c)]
    expected_ids = [_gid(c) for c in expected]
    graded_ids = {_gid(c) for c in expected
                  if c.metadata["nbgrader"].get("grade") or c.metadata["nbgrader"].get("solution")}
    present = [_gid(c) for c in nb.cells if _gid(c)]
    if not graded_ids & set(present):
        looks = [a for a, ids in other_assignments.items() if set(ids) & set(present)]
        hint = f"; it looks like a notebook of {', '.join(sorted(looks))}" if looks else ""
        return Checked(None, f"this is not a notebook of {assignment}: none of its {len(graded_ids)} graded "
                             f"cells is in it{hint}")
    notes: list[str] = []
    by_id = {_gid(c): c for c in expected}

    # cells with nbgrader metadata that the assignment does not know: plain cells from now on
    for cell in nb.cells:
        gid = _gid(cell)
        if cell.get("metadata", {}).get("nbgrader") is not None and gid not in by_id:
            cell.metadata.pop("nbgrader")
            notes.append(f"cell {gid!r} is not one of the assignment's cells; graded as an ordinary cell")
    # duplicates: keep the first copy's identity
    seen: dict = {}
    for cell in nb.cells:
        gid = _gid(cell)
        if gid is None:
            continue
        if gid in seen:
            seen[gid] += 1
            cell.metadata.pop("nbgrader")
            cell.metadata.pop("deletable", None)
            cell.metadata.pop("editable", None)
        else:
            seen[gid] = 1
    for gid, n in seen.items():
        if n > 1 and gid in graded_ids:
            notes.append(f"graded cell {gid} appears {n} times; the first copy is graded, all copies run in order")
    # metadata and type back to the assignment's
    for i, cell in enumerate(nb.cells):
        gid = _gid(cell)
        if gid is None:
            continue
        want = by_id[gid]
        if cell.cell_type != want.cell_type:
            nb.cells[i] = cell = _to_type(cell, want.cell_type)
            notes.append(f"cell {gid} was changed from {want.cell_type} to another cell type; changed back")
        meta = want.metadata["nbgrader"]
        if cell.metadata["nbgrader"] != meta:
            if meta.get("grade") and not meta.get("solution") and \
                    cell.metadata["nbgrader"].get("points") != meta.get("points"):
                notes.append(f"test cell {gid}'s points were changed; restored to {meta.get('points')}")
            cell.metadata["nbgrader"] = copy.deepcopy(dict(meta))
        if meta.get("locked") and _plain(cell.source) != _plain(want.source):
            label = "test cell" if meta.get("grade") else "locked cell"
            notes.append(f"{label} {gid} was edited; nbgrader restores it from the gradebook")
    # deleted cells come back after their predecessor
    missing = [g for g in expected_ids if g not in seen]
    for gid in missing:
        k = expected_ids.index(gid)
        where = 0
        for prev in reversed(expected_ids[:k]):
            idx = next((i for i, c in enumerate(nb.cells) if _gid(c) == prev), None)
            if idx is not None:
                where = idx + 1
                break
        nb.cells.insert(where, copy.deepcopy(by_id[gid]))
        if gid in graded_ids:
            kind = "solution cell (restored as the unanswered stub)" if by_id[gid].metadata["nbgrader"].get(
                "solution") else "test cell (restored)"
            notes.append(f"graded {kind} {gid} was missing from the submission")
    # order: groups headed by an assignment cell, in the assignment's order
    head: list = []
    groups: list = []
    for cell in nb.cells:
        if _gid(cell) is not None:
            groups.append([cell])
        elif groups:
            groups[-1].append(cell)
        else:
            head.append(cell)
    order = [_gid(g[0]) for g in groups]
    wanted = sorted(order, key=expected_ids.index)
    if order != wanted:
        moved = [g for g, w in zip(order, wanted) if g != w and g in graded_ids]
        notes.append("graded cells were out of order (" + ", ".join(moved[:4]) +
                     "); put back in the assignment's order")
        groups.sort(key=lambda g: expected_ids.index(_gid(g[0])))
        nb.cells = head + [c for g in groups for c in g]
    ids: set = set()
    for cell in nb.cells:  # copies and restored cells must not share nbformat cell ids
        if cell.get("id") in ids or not cell.get("id"):
            cell["id"] = f"restored-{len(ids)}-{abs(hash(_plain(cell.source))) % 10 ** 8}"
        ids.add(cell["id"])
    return Checked(nbformat.writes(nb).encode("utf-8"), None, notes)
