// NAFEMS LE1 elliptic membrane, quarter model (lengths in m).
// Inner ellipse x^2/2^2 + y^2/1^2 = 1, outer ellipse x^2/3.25^2 + y^2/2.75^2 = 1.
// Physical groups: inner, outer (loaded), x0 (symmetry, u_x = 0), y0 (symmetry,
// u_y = 0), membrane (the surface). The mesh is graded towards D = (2, 0), where
// the reference stress sigma_yy = 92.7 MPa is read. Quadratic (curved) elements.
h = 0.2;                      // element size far from D; scale with Mesh.MeshSizeFactor
Point(1) = {0, 0, 0, h};      // centre of both ellipses
Point(2) = {2, 0, 0, h};      // D
Point(3) = {0, 1, 0, h};      // A
Point(4) = {3.25, 0, 0, h};   // C
Point(5) = {0, 2.75, 0, h};   // B
Ellipse(1) = {2, 1, 2, 3};    // inner arc D -> A (start, centre, major-axis point, end)
Ellipse(2) = {4, 1, 4, 5};    // outer arc C -> B
Line(3) = {3, 5};             // x = 0
Line(4) = {2, 4};             // y = 0
Curve Loop(1) = {4, 2, -3, -1};
Plane Surface(1) = {1};
Physical Curve("inner") = {1};
Physical Curve("outer") = {2};
Physical Curve("x0") = {3};
Physical Curve("y0") = {4};
Physical Surface("membrane") = {1};
Field[1] = Distance;
Field[1].PointsList = {2};
Field[2] = Threshold;
Field[2].InField = 1;
Field[2].SizeMin = h / 5;
Field[2].SizeMax = h;
Field[2].DistMin = 0;
Field[2].DistMax = 1.5;
Background Field = 2;
Mesh.MeshSizeFromPoints = 0;
Mesh.MeshSizeExtendFromBoundary = 0;
Mesh.ElementOrder = 2;
