// Consumer of the installed package: proves find_package(metarec) gives usable headers.
#include <metarec.hpp>

#include <iostream>

int main() {
  metarec::Rng rng(42);
  const double u = rng.uniform();
  std::cout << "metarec " << METAREC_VERSION_STRING << " ok " << (u >= 0.0 && u < 1.0) << '\n';
  return (u >= 0.0 && u < 1.0) ? 0 : 1;
}
