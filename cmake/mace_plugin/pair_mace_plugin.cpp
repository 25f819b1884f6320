// mdrive's pair_style mace: a LAMMPS plugin that evaluates a MACE model exported by mace-torch's
// create_lammps_model (TorchScript LAMMPS_MACE wrapper). Written for mdrive against the public LAMMPS
// Pair interface and the wrapper's forward(data, local_or_ghost, compute_virials) contract.
#include <torch/script.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "lammps.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "pair.h"
#include "lammps_plugin.h"
#include "one_coeff_pair.h"
#include "periodic_image.h"

using namespace LAMMPS_NS;

namespace {
const char *SYMBOLS[] = {"X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P",
  "S", "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se",
  "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",
  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf",
  "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa",
  "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds",
  "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

int atomic_number(const char *symbol) {
  for (int z = 1; z < (int) (sizeof(SYMBOLS) / sizeof(SYMBOLS[0])); ++z)
    if (strcmp(symbol, SYMBOLS[z]) == 0) return z;
  return -1;
}
}    // namespace

class PairMACEPlugin : public mdrive_plugin::OneCoeffPair {
 public:
  explicit PairMACEPlugin(LAMMPS *lmp) : OneCoeffPair(lmp) {}

  void settings(int narg, char **arg) override
  {
    folded = narg == 1 && strcmp(arg[0], "no_domain_decomposition") == 0;
    if (narg > 1 || (narg == 1 && !folded))
      error->all(FLERR, "Illegal pair_style mace command: only option is no_domain_decomposition");
    // folded images carry their shift in the model's edges: the virial must come from the model
    no_virial_fdotr_compute = folded ? 1 : 0;
  }

  void coeff(int narg, char **arg) override
  {
    const int ntypes = atom->ntypes;
    if (narg != 3 + ntypes) error->all(FLERR, "pair_coeff * * model.pt El1 ... ElN: one element per atom type");
    // the profiling executor re-specialises the graph whenever the edge count changes (every few steps
    // in MD) and ran the first calls at half speed here; the plain interpreter runs as fast as eager
    torch::jit::setGraphExecutorOptimize(false);
    try {
      model = torch::jit::load(arg[2]);
    } catch (const c10::Error &e) {
      error->all(FLERR, std::string("Cannot load MACE model ") + arg[2] + ": " + e.what_without_backtrace());
    }
    model.eval();
    r_max = model.attr("r_max").toTensor().item<double>();
    interactions = model.attr("num_interactions").toTensor().item<int64_t>();
    auto zs = model.attr("atomic_numbers").toTensor().to(torch::kLong);
    nelements = zs.size(0);
    element_of_type.assign(ntypes + 1, -1);
    for (int t = 1; t <= ntypes; ++t) {
      const int z = atomic_number(arg[2 + t]);
      for (int k = 0; k < nelements; ++k)
        if (zs[k].item<int64_t>() == z) element_of_type[t] = k;
      if (element_of_type[t] < 0) error->all(FLERR, std::string("Element ") + arg[2 + t] + " is not in the MACE model");
    }
    allocate_all_pairs(ntypes);
  }

  void init_style() override
  {
    if (force->newton_pair == 0) error->all(FLERR, "Pair style mace requires newton pair on");
    if (folded) {
      if (comm->nprocs > 1) error->all(FLERR, "pair_style mace no_domain_decomposition runs on one MPI rank only");
      if (atom->map_style == Atom::MAP_NONE) error->all(FLERR, "pair_style mace no_domain_decomposition needs atom_modify map yes");
      neighbor->add_request(this, NeighConst::REQ_FULL);
    } else {
      // messages pass `interactions` times: ghosts out to interactions * r_max, with their own neighbours
      neighbor->add_request(this, NeighConst::REQ_FULL | NeighConst::REQ_GHOST);
      if (comm->cutghostuser < interactions * r_max) comm->cutghostuser = interactions * r_max;
    }
  }

  double init_one(int, int) override { return r_max; }

  void compute(int eflag, int vflag) override
  {
    ev_init(eflag, vflag);
    double **x = atom->x;
    double **f = atom->f;
    const int *type = atom->type;
    const int nlocal = atom->nlocal;
    const int nnodes = folded ? nlocal : nlocal + atom->nghost;
    const int nlists = folded ? list->inum : list->inum + list->gnum;
    const double cut2 = r_max * r_max;

    std::vector<int64_t> senders, receivers;
    std::vector<double> shifts, images;    // images: integer lattice offsets, shift = image @ cell
    for (int ii = 0; ii < nlists; ++ii) {
      const int i = list->ilist[ii];
      if (i >= nnodes) continue;
      const int *neighbours = list->firstneigh[i];
      for (int jj = 0; jj < list->numneigh[i]; ++jj) {
        int j = neighbours[jj] & NEIGHMASK;
        const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
        if (dx * dx + dy * dy + dz * dz >= cut2) continue;
        double shift[3] = {0.0, 0.0, 0.0}, image[3] = {0.0, 0.0, 0.0};
        if (folded && j >= nlocal) {
          const int owner = mdrive_plugin::fold_ghost(atom, domain, error, j, image);
          // vector = pos[receiver] - pos[sender] + shift must equal x[i] - x[j] for the image j; the model
          // strains the cell for the virial and rebuilds shifts from the integer images (sender to receiver)
          for (int d = 0; d < 3; ++d) {
            shift[d] = x[owner][d] - x[j][d];
            image[d] = -image[d];
          }
          j = owner;
        }
        senders.push_back(j);
        receivers.push_back(i);
        shifts.insert(shifts.end(), shift, shift + 3);
        images.insert(images.end(), image, image + 3);
      }
    }
    const int64_t nedges = (int64_t) senders.size();
    auto dbl = torch::TensorOptions().dtype(torch::kFloat64);
    auto lng = torch::TensorOptions().dtype(torch::kLong);

    auto positions = torch::empty({nnodes, 3}, dbl);
    auto node_attrs = torch::zeros({nnodes, nelements}, dbl);
    auto mask = torch::zeros({nnodes}, dbl);
    auto pos = positions.accessor<double, 2>();
    auto attrs = node_attrs.accessor<double, 2>();
    auto local = mask.accessor<double, 1>();
    for (int k = 0; k < nnodes; ++k) {
      for (int d = 0; d < 3; ++d) pos[k][d] = x[k][d];
      attrs[k][element_of_type[type[k]]] = 1.0;
      local[k] = k < nlocal ? 1.0 : 0.0;
    }
    auto edge_index = torch::empty({2, nedges}, lng);
    if (nedges) {
      std::memcpy(edge_index[0].data_ptr<int64_t>(), senders.data(), nedges * sizeof(int64_t));
      std::memcpy(edge_index[1].data_ptr<int64_t>(), receivers.data(), nedges * sizeof(int64_t));
    }
    auto shift_tensor = torch::from_blob(shifts.data(), {nedges, 3}, dbl).clone();

    c10::Dict<std::string, torch::Tensor> data;
    data.insert("positions", positions);
    data.insert("node_attrs", node_attrs);
    data.insert("edge_index", edge_index);
    data.insert("shifts", shift_tensor);
    data.insert("unit_shifts", torch::from_blob(images.data(), {nedges, 3}, dbl).clone());
    double rows[9];
    mdrive_plugin::cell_rows(domain->h, rows);
    auto cell = torch::from_blob(rows, {3, 3}, dbl).clone();
    data.insert("cell", folded ? cell : torch::zeros({3, 3}, dbl));
    data.insert("batch", torch::zeros({nnodes}, lng));
    data.insert("ptr", torch::tensor({(int64_t) 0, (int64_t) nnodes}, lng));

    const bool model_virial = folded && vflag_global;
    c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
    try {    // a C++ exception must not cross LAMMPS: it becomes this run's error, with the model's message
      out = model.forward({data, mask, model_virial}).toGenericDict();
    } catch (const std::exception &e) {
      error->one(FLERR, std::string("the MACE model failed: ") + e.what());
    }
    auto forces = out.at("forces").toTensor().contiguous();
    auto fa = forces.accessor<double, 2>();
    for (int k = 0; k < nnodes; ++k)
      for (int d = 0; d < 3; ++d) f[k][d] += fa[k][d];
    if (eflag_global) eng_vdwl += out.at("total_energy_local").toTensor().sum().item<double>();
    if (eflag_atom) {
      auto node_energy = out.at("node_energy").toTensor();
      for (int k = 0; k < nlocal; ++k) eatom[k] += node_energy[k].item<double>();
    }
    if (model_virial) {
      auto v = out.at("virials").toTensor().reshape({3, 3});
      virial[0] += v[0][0].item<double>();
      virial[1] += v[1][1].item<double>();
      virial[2] += v[2][2].item<double>();
      virial[3] += v[0][1].item<double>();
      virial[4] += v[0][2].item<double>();
      virial[5] += v[1][2].item<double>();
    }
    if (vflag_fdotr) virial_fdotr_compute();
  }

 protected:
  torch::jit::script::Module model;
  double r_max = 0.0;
  int64_t interactions = 1;
  int64_t nelements = 0;
  bool folded = false;
  std::vector<int> element_of_type;
};

static Pair *create_mace(LAMMPS *lmp) { return new PairMACEPlugin(lmp); }

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  mdrive_plugin::register_pair(lmp, handle, regfunc, "mace", "MACE (mace-torch LAMMPS export) for mdrive",
                               create_mace);
}
