// Folding a ghost atom back onto the local atom it images, for pair styles whose model sees one periodic
// cell (mdrive's mace no_domain_decomposition, nequip). Shared by mdrive's plugins.
#pragma once

#include <cmath>

#include "atom.h"
#include "domain.h"
#include "error.h"

namespace mdrive_plugin {
// the local atom that ghost j images; `image` gets the lattice offset n (in cell vectors) with
// x[j] = x[owner] + n @ cell, so the model rebuilds the shift from integers when it strains the cell
inline int fold_ghost(LAMMPS_NS::Atom *atom, LAMMPS_NS::Domain *domain, LAMMPS_NS::Error *error, int j,
                      double image[3])
{
  int owner = atom->map(atom->tag[j]);
  while (owner >= atom->nlocal) owner = atom->sametag[owner];    // map() may name a ghost copy
  if (owner < 0) error->one(FLERR, "a ghost atom without a local owner: use atom_modify map yes");
  double **x = atom->x;
  const double s0 = x[j][0] - x[owner][0], s1 = x[j][1] - x[owner][1], s2 = x[j][2] - x[owner][2];
  const double *hi = domain->h_inv;    // upper triangular, as the LAMMPS box
  image[0] = std::round(hi[0] * s0 + hi[5] * s1 + hi[4] * s2);
  image[1] = std::round(hi[1] * s1 + hi[3] * s2);
  image[2] = std::round(hi[2] * s2);
  return owner;
}

// the LAMMPS box as rows a, b, c (the transposed upper-triangular h), in row-major order
inline void cell_rows(const double *h, double rows[9])
{
  const double r[9] = {h[0], 0.0, 0.0, h[5], h[1], 0.0, h[4], h[3], h[2]};
  for (int k = 0; k < 9; ++k) rows[k] = r[k];
}
}    // namespace mdrive_plugin
