#!/usr/bin/env python3
"""Left/right symmetry pairs of MediaPipe's 468-point face mesh, for src/render/face/symmetry.rs.

Input: MediaPipe's canonical face model, `mediapipe/modules/face_geometry/data/canonical_face_model.obj` in the
MediaPipe repository (Apache-2.0; not in the PyPI wheel). Its 468 vertices are the mesh's points in landmark order
and the model is mirror-symmetric about x = 0. Point i's partner is the vertex nearest to i with x negated
(midline points are their own partners). The pairing must be an involution with every match exact to 1e-4.

    python3 scripts/face_symmetry.py canonical_face_model.obj > pairs.txt

prints the table as a Rust array body (468 indices, 16 a line).
"""
import sys


def main(path):
    verts = []
    with open(path) as f:
        for line in f:
            if line.startswith("v "):
                verts.append(tuple(float(v) for v in line.split()[1:4]))
    assert len(verts) == 468, f"{path}: {len(verts)} vertices, expected 468"
    pairs = []
    for x, y, z in verts:
        d = [((x + a) ** 2 + (y - b) ** 2 + (z - c) ** 2, j) for j, (a, b, c) in enumerate(verts)]
        dist, j = min(d)
        assert dist < 1e-8, f"vertex {len(pairs)} has no mirror image (nearest {j} at {dist ** 0.5})"
        pairs.append(j)
    assert all(pairs[pairs[i]] == i for i in range(468)), "not an involution"
    for k in range(0, 468, 16):
        print("    " + ", ".join(str(p) for p in pairs[k:k + 16]) + ",")


if __name__ == "__main__":
    main(sys.argv[1])
