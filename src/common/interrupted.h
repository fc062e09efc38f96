// lathe::Interrupted: the user asked a long job to stop (Ctrl-C) and it stopped cleanly, leaving
// no partial output. Commands catch it to say so and exit with the conventional 130.
#pragma once

#include "common/error.h"

namespace lathe {

class Interrupted : public Error {
 public:
  using Error::Error;
};

}  // namespace lathe
